"""Toy targets and the live PacGAN coverage metrics computed on them."""
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

import gandiag
from gandiag import record as R
from gandiag.config import ConfigError, load_config
from gandiag.data.points import load_samples
from gandiag.data.toy import mixture_from_config, ring
from gandiag.metrics import coverage
from gandiag.targets import mode_metrics
from gandiag.train.runs import resume, run

from cli_runs import checkpoint, cli
from tiny import QUIET, toy_config


def test_ring8_has_eight_distinct_evenly_spaced_centres():
    # linspace(0, 2*pi, 8) in earlier code repeated the first centre: 7 modes, one with double weight
    m = mixture_from_config(load_config("ring8"))
    assert m.n_modes == 8 and len(np.unique(np.round(m.centres, 9), axis=0)) == 8
    assert_allclose(np.linalg.norm(m.centres, axis=1), np.full(8, 2.0))
    angles = np.sort(np.mod(np.arctan2(m.centres[:, 1], m.centres[:, 0]), 2 * math.pi))
    assert_allclose(np.diff(angles), np.full(7, 2 * math.pi / 8))
    assert_allclose(m.weights, np.full(8, 1 / 8))


def test_grid25_has_25_distinct_centres_on_the_published_lattice():
    m = mixture_from_config(load_config("grid25"))
    axis = sorted(set(np.round(m.centres[:, 0], 9)))
    assert m.n_modes == 25 and len(np.unique(m.centres, axis=0)) == 25
    assert_allclose(axis, [-4, -2, 0, 2, 4])


def _draw(mixture, n, seed=0):
    return mixture.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


def test_samples_from_the_target_cover_every_mode_with_hq_near_its_ceiling():
    for name, n_modes in (("ring8", 8), ("grid25", 25)):
        m = mixture_from_config(load_config(name))
        row = mode_metrics(_draw(m, 2500), m)
        assert row["modes"] == n_modes and row["modes_strict"] == n_modes
        # P(d < 3) = 1 - exp(-4.5) = 0.989 for a 2D isotropic Gaussian; 2,500 draws: s.e. ~0.002
        assert_allclose(row["hq"], 1 - math.exp(-4.5), atol=0.008)
        assert_allclose(row["reverse_kl"], 0.0, atol=0.02)


def test_samples_from_one_mode_give_one_mode_and_reverse_kl_ln8():
    m = ring(8, 2.0, 0.02)
    one = m.centres[3] + 0.02 * np.random.default_rng(0).standard_normal((2500, 2))
    row = mode_metrics(one, m)
    assert row["modes"] == 1 and row["mode_counts"][3] == sum(row["mode_counts"])
    assert_allclose(row["reverse_kl"], math.log(8))


def test_coverage_agrees_with_a_direct_loop_computation():
    m = ring(8, 2.0, 0.02)
    x = np.random.default_rng(1).uniform(-2.2, 2.2, (400, 2))
    x[:100] = _draw(m, 100)
    counts = np.zeros(8, dtype=int)
    for p in x:
        d = [math.sqrt(((p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2)) / s for c, s in zip(m.centres, m.stds)]
        j = int(np.argmin(d))
        counts[j] += d[j] < 3
    assert counts.tolist() == coverage.mode_counts(x, m.centres, m.stds).tolist()
    share = counts / counts.sum()
    nz = share[share > 0]
    assert_allclose(coverage.reverse_kl(counts), float(np.sum(nz * np.log(nz * 8))))
    assert_allclose(coverage.high_quality_share(counts, 400), counts.sum() / 400)


def test_the_strict_count_ignores_a_stray_sample():
    counts = np.array([2499, 1, 0, 0, 0, 0, 0, 0])
    assert coverage.modes_captured(counts) == 2
    assert coverage.modes_captured(counts, 0.01, 2500) == 1


def test_sampling_is_repeatable_and_on_the_requested_dtype():
    m = ring(8, 2.0, 0.02)
    a = m.sample(64, torch.Generator().manual_seed(5))
    b = m.sample(64, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.dtype == torch.float32 and a.shape == (64, 2)


def test_target_modes_gives_a_scenario_that_many_modes_and_is_refused_where_they_are_known():
    three = gandiag.target("ring8", modes=3)
    assert three.mixture.n_modes == 3
    torch.testing.assert_close(torch.as_tensor(three.mixture.centres), torch.as_tensor(ring(3, 2.0, 0.02).centres))
    with pytest.raises(ValueError, match="modes = 3 applies to a scenario name or to your points"):
        gandiag.target(gandiag.target("ring8"), modes=3)


def test_fitting_more_modes_than_the_points_have_distinct_values_is_refused_in_one_line():
    points = np.repeat([[0.0, 0.0], [1.0, 1.0]], 50, axis=0)
    with pytest.raises(ConfigError, match="^3 modes cannot be fitted to points with 2 distinct value"):
        gandiag.target(points, modes=3)
    assert gandiag.target(points, modes=2).fitted.n_modes == 2


def test_more_target_modes_than_points_is_refused_without_naming_the_rings_modes_option(tmp_path):
    np.save(tmp_path / "points.npy", np.random.default_rng(0).normal(size=(20, 2)))
    result = cli("run", "ring8", "--data-file", tmp_path / "points.npy", "--target-modes", 50, "--out",
                 tmp_path / "run", *QUIET)
    assert (result.exit_code, result.output) == (1, "Error: 50 modes cannot be fitted to 20 points: ask for 1 to 20\n")
    assert not (tmp_path / "run").exists()


def test_a_csv_with_a_byte_order_mark_keeps_its_first_point(tmp_path):
    points = np.array([[0.5, -1.25], [2.0, 3.0], [-4.5, 0.75]])
    path = tmp_path / "excel.csv"
    path.write_text("".join(f"{x},{y}\n" for x, y in points), encoding="utf-8-sig")   # Excel's "CSV UTF-8"
    torch.testing.assert_close(torch.as_tensor(load_samples(path)), torch.as_tensor(points))


def test_a_run_on_your_points_resumes_on_the_points_it_trained_on_after_their_file_changed(tmp_path):
    points, data = np.random.default_rng(0).normal(size=(64, 2)), tmp_path / "points.npy"
    np.save(data, points)
    settings = dict(steps=8, checkpoint_every=4, log_every=2, data_file=str(data), target_modes=3, device="cpu")
    run(toy_config(**settings), tmp_path / "whole", quiet=True)
    run(toy_config(**{**settings, "steps": 4}), tmp_path / "resumed", quiet=True)
    np.save(data, points[::-1] * 3)   # the file now holds other points
    resume(tmp_path / "resumed", steps=8, quiet=True)
    # the rows after the checkpoint (the row a run ends on holds more keys than one it trains past) and G
    rows = [(tmp_path / r / R.METRICS_FILE).read_text().splitlines()[3:] for r in ("whole", "resumed")]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    torch.testing.assert_close(checkpoint(tmp_path / "resumed", 8)["G"], checkpoint(tmp_path / "whole", 8)["G"],
                               rtol=0, atol=0)


def test_a_csv_with_a_short_row_names_its_line_and_no_numpy_argument(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n3\n")
    with pytest.raises(ValueError) as err:
        load_samples(path)
    assert "(line 3 holds 1 value(s) where line 2 holds 2: write one x,y per line)" in str(err.value)
    assert "usecols" not in str(err.value)


def test_a_points_file_of_too_few_points_is_refused_naming_the_file(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((1, 2)))
    result = cli("run", "ring8", "--data-file", tmp_path / "one.npy", "--out", tmp_path / "run", *QUIET)
    assert (result.exit_code, result.output) == (
        1, f"Error: {tmp_path / 'one.npy'} holds 1 point(s): a points target needs more than 5; give more\n")
