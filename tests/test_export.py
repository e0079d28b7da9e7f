"""gandiag export: the TensorBoard events hold each run's metrics exactly, one subfolder per run when there are
several (a --seeds pass included), and a refusal writes nothing."""
from __future__ import annotations

import numbers
import shutil

import pytest
import torch

from gandiag import record as R
from cli_runs import cli, run_tiny, with_steps
from test_cli_messages import one_line_error

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A single run and a --seeds 2 pass of it."""
    root = tmp_path_factory.mktemp("export")
    single = run_tiny(root / "single")
    assert cli("run", "ring8", "--out", root / "pass", "--seeds", 2, *with_steps(20)).exit_code == 0
    return single, root / "pass"


def scalars_in(folder) -> dict[str, list[tuple[int, float]]]:
    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def scalars_of(run) -> dict[str, list[tuple[int, float]]]:
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in R.RunReader(run).metrics():
        for key, value in row.items():
            if key != R.STEP and isinstance(value, numbers.Real) and not isinstance(value, bool):
                expected.setdefault(key, []).append((row[R.STEP], float(value)))
    return expected


def assert_same_scalars(folder, run):
    written, expected = scalars_in(folder), scalars_of(run)
    assert sorted(written) == sorted(expected)
    for tag, points in expected.items():
        assert [s for s, _ in written[tag]] == [s for s, _ in points], tag
        # events store float32
        torch.testing.assert_close(torch.tensor([v for _, v in written[tag]]),
                                   torch.tensor([v for _, v in points], dtype=torch.float32), msg=tag)


def test_the_events_hold_every_metric_of_the_run_at_its_step(runs, tmp_path):
    single, _ = runs
    result = cli("export", single, "--tensorboard", tmp_path / "tb", "--max-frames", 2)
    assert result.exit_code == 0, result.output
    assert_same_scalars(tmp_path / "tb", single)


def test_a_seeds_pass_exports_one_subfolder_per_seed(runs, tmp_path):
    _, seeds = runs
    result = cli("export", seeds, "--tensorboard", tmp_path / "tb", "--max-frames", 1)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["seed_0", "seed_1"]
    for seed in ("seed_0", "seed_1"):
        assert_same_scalars(tmp_path / "tb" / seed, seeds / seed)


def test_several_runs_export_side_by_side_under_their_names(runs, tmp_path):
    single, seeds = runs
    result = cli("export", single, seeds, "--tensorboard", tmp_path / "tb", "--max-frames", 1)
    assert result.exit_code == 0, result.output
    folders = {events.parent.relative_to(tmp_path / "tb").as_posix() for events in (tmp_path / "tb").rglob("events.*")}
    assert folders == {"pass/seed_0", "pass/seed_1", "single"}
    assert_same_scalars(tmp_path / "tb" / "single", single)
    assert_same_scalars(tmp_path / "tb" / "pass" / "seed_1", seeds / "seed_1")


def test_two_runs_of_one_name_are_refused_before_anything_is_written(runs, tmp_path):
    single, _ = runs
    twin = shutil.copytree(single, tmp_path / "other" / single.name)
    line = one_line_error(cli("export", single, twin, "--tensorboard", tmp_path / "tb"))
    assert line == (f"Error: {single} and {twin} would both be exported to the subfolder {single.name}: export "
                    "them in two commands, each into its own --tensorboard folder")
    assert not (tmp_path / "tb").exists()


def test_a_damaged_run_among_several_writes_no_events(runs, tmp_path):
    single, _ = runs
    (tmp_path / "empty").mkdir()
    one_line_error(cli("export", single, tmp_path / "empty", "--tensorboard", tmp_path / "tb"))
    assert not (tmp_path / "tb").exists()
