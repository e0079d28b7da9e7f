"""Each rule fires on a synthetic run that has its failure and stays silent on one that does not."""
import dataclasses
import re

import numpy as np
import pytest
import torch
from analyzer_synth import (EVERY, PIXEL_RING, RING, ROWS, collapsed, exploded, flickering, healthy_rows, orbiting,
                            rotating, saturated, set_from, spreading, unreached, where_g_starts, write_run)
from numpy.testing import assert_allclose
from tiny import toy_config

from gandiag import losses, record as R
from gandiag.analysis import LIVE_ROWS, analyze_run, live_verdicts, live_warnings, mode_sequence
from gandiag.config import ConfigError, load_config, to_dict
from gandiag.diagnose import RULES, diagnose, rules_table
from gandiag.remedies import D_MORE, for_run
from gandiag.data.toy import Mixture
from gandiag.facts import RunFacts, Spread, d_loss_floor
from gandiag.metrics import coverage, oscillation
from gandiag.stabilizers.labels import d_targets

FAILURES = {
    "divergence": lambda rows: set_from(rows, 80, D_LOSS=None, G_LOSS=float("nan")),
    "d_loss_zero": lambda rows: set_from(rows, 60, D_LOSS=lambda r: 0.01 + 0.001 * (r[R.STEP] % 3)),
    "exploding_gradients": lambda rows: set_from(rows, 50, D_GRAD_NORM=lambda r: 250.0 if r[R.STEP] < 5300 else 1.0),
    "spiky_d_loss": lambda rows: set_from(rows, 40, D_LOSS=lambda r: 5.0 if r[R.STEP] % 1000 == 0 else r[R.D_LOSS]),
    "g_loss_falls_without_progress": lambda rows: set_from(
        collapsed(rows, 0), 0, G_LOSS=lambda r: 3.0 - 2.5 * r[R.STEP] / (ROWS * EVERY), HQ=0.2),
    "mode_collapse": lambda rows: collapsed(rows, 30),
    "mode_hopping": rotating,
    "vanishing_g_gradient": lambda rows: saturated(rows, 50),
}
# the step range each failure spans: every verdict's evidence must point at it
SPANS = {"divergence": [8000, 9900], "d_loss_zero": [6000, 9900], "exploding_gradients": [5000, 5200],
         "spiky_d_loss": [4000, 9000], "g_loss_falls_without_progress": [0, 9900],
         "mode_collapse": [8000, 9900],            # the last fifth of the rows
         "mode_hopping": [3800, 9900],             # the later half of the windows of 25 rows (a quarter of 100)
         "vanishing_g_gradient": [5000, 9500]}     # the probe rows
LOSS = {"vanishing_g_gradient": "minimax"}


def view(rows, loss="nonsaturating", status=R.FINISHED, **config):
    _, steps, near, hq = mode_sequence(rows, [], None)
    return RunFacts(rows, {"loss": loss, **config}, status, oscillation.late(oscillation.windows(steps, near, hq)))


@pytest.fixture(scope="module")
def healthy():
    return healthy_rows()


def test_a_run_sampling_the_target_raises_no_alarm(healthy):
    assert diagnose(view(healthy, "minimax")) == []
    assert live_verdicts(healthy) == []


@pytest.mark.parametrize("rule", list(FAILURES))
def test_each_rule_fires_on_its_failure_and_points_at_it(rule, healthy):
    broken = FAILURES[rule]([dict(r) for r in healthy])
    verdicts = diagnose(view(broken, LOSS.get(rule, "nonsaturating")))
    fired = {v.rule for v in verdicts}
    assert rule in fired
    assert diagnose(view(healthy, LOSS.get(rule, "nonsaturating"))) == []
    verdict = next(v for v in verdicts if v.rule == rule)
    assert verdict.evidence[R.EV_STEPS] == SPANS[rule]
    assert verdict.remedies and verdict.message


def test_a_spiky_d_loss_verdict_names_only_the_clause_that_fired(healthy):
    """A steady climb varies a lot without a single spike; its verdict used to say "spikes 0 times"."""
    climbing = set_from([dict(r) for r in healthy], 50, D_LOSS=lambda r: 0.1 + 2.4 * (r[R.STEP] / EVERY - 50) / 49)
    (verdict,) = [v for v in diagnose(view(climbing)) if v.rule == "spiky_d_loss"]
    assert verdict.evidence["spikes"] == 0
    assert re.fullmatch(r"D loss varies by \d+ % over the later half: healthy D losses are smooth", verdict.message)
    spiky = FAILURES["spiky_d_loss"]([dict(r) for r in healthy])
    (verdict,) = [v for v in diagnose(view(spiky)) if v.rule == "spiky_d_loss"]
    assert re.match(r"D loss spikes \d+ times \(jumps above 1.5x its running median\)", verdict.message)


def test_collapse_does_not_also_read_as_hopping_or_divergence(healthy):
    fired = {v.rule for v in diagnose(view(collapsed([dict(r) for r in healthy], 30)))}
    assert fired == {"mode_collapse"}


def test_divergence_from_the_status_file_alone(healthy):
    (verdict,) = diagnose(view(healthy, status=R.DIVERGED))
    assert verdict.rule == "divergence" and verdict.severity == "error"


def test_saturated_fakes_mean_vanishing_gradient_only_under_the_saturating_loss(healthy):
    saturated = FAILURES["vanishing_g_gradient"]([dict(r) for r in healthy])
    assert [v.rule for v in diagnose(view(saturated, "minimax"))] == ["vanishing_g_gradient"]
    assert diagnose(view(saturated, "nonsaturating")) == []


def test_a_critic_loss_near_zero_is_not_a_strong_discriminator(healthy):
    critic = set_from([dict(r) for r in healthy], 0, D_LOSS=lambda r: -0.01 + 0.001 * (r[R.STEP] % 7))
    assert diagnose(view(critic, "wgan-gp")) == []
    assert live_verdicts(critic) == []           # loss unknown: its negative values give the critic away
    positive = set_from([dict(r) for r in healthy], 0, D_LOSS=0.01)
    assert [v.rule for v in live_verdicts(positive)] == ["d_loss_zero"]


def test_evidence_carries_the_values(healthy):
    broken = FAILURES["mode_collapse"]([dict(r) for r in healthy])
    (verdict,) = diagnose(view(broken))
    assert verdict.evidence["held_modes"] == [3] and verdict.evidence["n_modes"] == 8
    assert_allclose([verdict.evidence["modes_strict"], verdict.evidence["reverse_kl"]], [1, np.log(8)], rtol=1e-12)


def test_live_warnings_appear_once_the_failure_shows_and_name_the_rule(healthy):
    on_row = live_warnings()
    broken = FAILURES["d_loss_zero"]([dict(r) for r in healthy])
    shown = [on_row(row) for row in broken]
    title = next(r.title for r in RULES if r.name == "d_loss_zero")
    first = next(i for i, w in enumerate(shown) if w)
    assert first == 64 and shown[first] == [title]   # 5 rows below the threshold, from row 60


def test_the_rule_table_names_every_rule_with_its_severity_and_thresholds():
    table = rules_table().splitlines()
    assert len(table) == 2 + len(RULES)
    for line, rule in zip(table[2:], RULES):
        assert line.startswith(f"| `{rule.name}` | {rule.title} | {rule.severity} |")
        assert all(f"{k} = {v:g}" in line for k, v in rule.thresholds.items())


def test_live_check_copes_with_rows_without_mode_counts():
    """An image run without the classifier, or a loss-only log: the mode rules have nothing to say."""
    rows = [{R.STEP: 100 * i, R.D_LOSS: 0.01, R.G_LOSS: 5.0} for i in range(10)]
    assert [v.rule for v in live_verdicts(rows[:1])] == []
    assert [v.rule for v in live_verdicts(rows)] == ["d_loss_zero"]


# --- spreading is not hopping; remedies follow from what the run does --------------------------

def test_a_generator_spreading_over_the_modes_is_not_hopping(healthy):
    fired = {v.rule for v in diagnose(view(spreading([dict(r) for r in healthy], 0), unrolled=10))}
    assert fired == {"spreading"}


def test_a_blob_orbiting_off_the_modes_is_hopping_not_spreading(healthy):
    fired = {v.rule for v in diagnose(view(orbiting([dict(r) for r in healthy], 0)))}
    assert fired == {"mode_hopping"}


def test_mass_coming_and_going_on_a_single_mode_is_not_hopping(healthy):
    rows = flickering([dict(r) for r in healthy])
    windows = view(rows).windows
    assert {w[R.OSC_VISITED] for w in windows} == {1} and min(w[R.OSC_INDEX] for w in windows) >= 0.25
    assert "mode_hopping" not in {v.rule for v in diagnose(view(rows))}
    assert "mode_hopping" not in {v.rule for v in live_verdicts(rows)}


def test_a_generator_that_hopped_then_settled_onto_every_mode_is_not_hopping(healthy):
    """Rows 0-74 on one mode at a time, the next mode each row, then 25 rows (a window) on all 8 at high
    quality: more than half of the later windows still hold the hopping, but the run ends where it should."""
    hopped = rotating([dict(r) for r in healthy])[:75] + [dict(r) for r in healthy[75:]]
    assert diagnose(view(hopped)) == []
    assert live_verdicts(hopped) == []
    # the same hopping that lasts to the end is still hopping
    assert "mode_hopping" in {v.rule for v in diagnose(view(rotating([dict(r) for r in healthy])))}


def test_remedies_never_suggest_what_the_run_already_does(healthy):
    rows = orbiting([dict(r) for r in healthy], 0)
    (verdict,) = diagnose(view(rows, unrolled=10))
    assert not any(r.startswith("unrolled D") for r in verdict.remedies)
    assert "more unroll steps: --unrolled 20 (this run unrolls 10)" in verdict.remedies[0]
    assert "--unrolled 10 --minibatch-disc" in verdict.remedies[0]
    (verdict,) = diagnose(view(rows, unrolled=10, minibatch_disc=True, hist_avg=0.1))
    assert verdict.remedies[0] == "more unroll steps: --unrolled 20 (this run unrolls 10)"
    assert not any("--hist-avg" in r for r in verdict.remedies)


EVERYTHING_ON = {"loss": "wgan-gp", "unrolled": 10, "minibatch_disc": True, "pack": 4, "replay_size": 10000,
                 "hist_avg": 0.1, "swap_every": 1000, "label_smoothing": 0.9, "instance_noise": 0.1,
                 "noisy_labels": True, "spectral_norm": True, "d_beta1": 0.5, "g_beta1": 0.5, "d_lr": 1e-4,
                 "g_lr": 1e-4, "d_steps": 1, "d_hidden": [128], "steps": 3000}


CONFIGS = [EVERYTHING_ON, {**EVERYTHING_ON, "loss": "nonsaturating"}]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_a_run_that_applies_a_remedy_is_told_something_else(rule):
    for remedy in rule.remedies:
        if remedy.done is not None:
            applied = [c for c in CONFIGS if remedy.done(c)]
            assert applied, remedy.text                  # some config here applies it: the check is not vacuous
            assert all(remedy.for_run(c) != remedy.text for c in applied)
            assert remedy.for_run({}) == remedy.text     # a run of unknown config gets it as written


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp", "hinge"])
def test_a_critic_run_is_not_told_to_smooth_or_flip_labels_which_its_config_refuses(loss):
    told = lambda config: [t for rule in RULES for t in for_run(rule.remedies, to_dict(config))]  # noqa: E731
    labels = re.compile("--label-smoothing|--noisy-labels|--label-flip")
    assert [t for t in told(load_config("ring8", loss=loss)) if labels.search(t)] == []
    assert [t for t in told(load_config("ring8")) if labels.search(t)]   # the nonsaturating run is told them
    with pytest.raises(ConfigError, match="label_smoothing = 0.9 does nothing"):
        load_config("ring8", loss=loss, label_smoothing=0.9)


def test_an_image_run_is_told_to_widen_d_by_its_own_width_flag():
    image, toy = to_dict(load_config("mnist")), to_dict(load_config("ring8"))
    assert for_run((D_MORE,), image) == (f"give D more steps or capacity: --d-steps 2 (now 1), a wider --d-width "
                                         f"(now {image['d_width']})",)
    assert for_run((D_MORE,), toy) == ("give D more steps or capacity: --d-steps 2 (now 1), a wider --d-hidden "
                                       "(now 128)",)


# --- an explosion without NaN ----------------------------------------------------------------------

def test_an_explosion_without_nan_is_an_error_and_its_numbers_agree(healthy):
    rows = exploded([dict(r) for r in healthy], 10)
    verdicts = diagnose(view(rows, d_lr=1e6, g_lr=1e6))
    assert [(v.rule, v.severity) for v in verdicts] == [("exploded", "error")]
    (verdict,) = verdicts
    assert verdict.evidence[R.EV_STEPS] == [1000, 9900] and verdict.evidence["hq"] == 0.0
    assert "--d-lr 1e-4 --g-lr 1e-4" in verdict.remedies[0]
    # every row holds 0 modes: no window may say otherwise
    _, steps, near, hq = mode_sequence(rows[50:], [], None)
    for w in oscillation.windows(steps, near, hq):
        assert (w[R.OSC_VISITED], w[R.OSC_COVERED], w[R.OSC_HQ_COVERED]) == (0, 0.0, 0.0)


@pytest.mark.parametrize("blown, found", [(3, True), (2, True), (1, False)])
def test_a_short_run_that_blows_up_to_its_end_is_exploded_and_a_last_spike_is_not(healthy, blown, found):
    """300 steps logged every 100: three loss rows, too few for min_rows, yet all of them far off."""
    rows = [{R.STEP: s, R.D_LOSS: 1.3, R.G_LOSS: 0.7, R.G_GRAD_NORM: 0.5} for s in (100, 200, 300)]
    for r in rows[3 - blown:]:
        r.update({R.D_LOSS: 4.6e5, R.G_LOSS: 0.0, R.G_GRAD_NORM: 0.0})
    rules = [v.rule for v in diagnose(RunFacts(rows, {"loss": "nonsaturating"}, R.FINISHED, []))]
    assert ("exploded" in rules) == found


# --- Stacked MNIST: 1000 classes, no high-quality measure ------------------------------------------

def stacked_rows(classes: int, n: int = 2500, rows: int = 20) -> list[dict]:
    """Image rows as the classifier writes them: every sample in one of 1000 classes, spread evenly over
    the first `classes` of them."""
    rng = np.random.default_rng(classes)
    out = []
    for i in range(rows):
        counts = np.zeros(1000, dtype=int)
        counts[:classes] = rng.multinomial(n, np.full(classes, 1 / classes))
        out.append({R.STEP: 500 * i, R.D_LOSS: 1.3, R.G_LOSS: 0.8, R.MODES: int((counts > 0).sum()),
                    R.MODES_STRICT: coverage.modes_strict(counts, n), R.MODE_COUNTS: counts.tolist()})
    return out


def test_mode_collapse_is_found_on_stacked_mnist():
    (verdict,) = diagnose(view(stacked_rows(30)))
    assert verdict.rule == "mode_collapse" and verdict.evidence["modes_strict"] == 30
    assert "30 modes at the last row" in verdict.message
    assert diagnose(view(stacked_rows(1000))) == []


# --- the D loss floor the targets imply ------------------------------------------------------------

@pytest.mark.parametrize("options, floor", [
    ({}, 0.0),
    ({"label_smoothing": 0.9}, -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))),
    ({"noisy_labels": True}, sum(-(m * np.log(m) + (1 - m) * np.log(1 - m)) for m in (0.95, 0.15))),
    ({"loss": "least-squares", "noisy_labels": True}, 0.5 * 0.5 ** 2 / 12 + 0.5 * 0.3 ** 2 / 12),
    ({"loss": "hinge", "label_smoothing": 0.9}, 0.0),
    ({"loss": "wgan-gp"}, None),
])
def test_the_d_loss_floor_is_what_a_perfect_d_scores_with_the_runs_targets(options, floor):
    config = {"loss": "nonsaturating", **options}
    got = d_loss_floor(config)
    assert got is None if floor is None else np.isclose(got, floor, rtol=1e-12, atol=1e-15)
    if floor is not None and config["loss"] != "hinge":
        assert_allclose(best_constant_d_loss(config), floor, atol=2e-3)


def best_constant_d_loss(config) -> float:
    """The D loss, on the targets the trainer draws for this config, of a perfect D: one output for all
    reals and one for all fakes, each the best constant (the mean target: a probability under
    cross-entropy, a score under least squares); nudging either output only raises it."""
    cfg = toy_config(**config)
    real_t, fake_t = (torch.as_tensor(t, dtype=torch.float64).expand(100_000)
                      for t in d_targets(cfg, 100_000, torch.Generator().manual_seed(0), "cpu"))

    def logits(out: float, like: torch.Tensor) -> torch.Tensor:
        out = torch.full_like(like, float(out))
        return out if cfg.loss == "least-squares" else torch.logit(out.clamp(1e-15, 1 - 1e-15))

    def loss(real_out, fake_out) -> float:
        return float(losses.d_loss(cfg.loss, logits(real_out, real_t), logits(fake_out, fake_t), real_t, fake_t))
    best = (float(real_t.mean()), float(fake_t.mean()))
    assert loss(*best) < min(loss(best[0] * 0.98, best[1]), loss(best[0], best[1] * 0.98 + 0.01))
    return loss(*best)


def test_d_loss_at_the_smoothing_floor_means_d_wins(healthy):
    floor = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    rows = set_from([dict(r) for r in healthy], 50, D_LOSS=lambda r: floor + 0.01 + 0.001 * (r[R.STEP] % 3))
    (verdict,) = diagnose(view(rows, label_smoothing=0.9))
    assert verdict.rule == "d_loss_zero" and verdict.evidence[R.EV_STEPS] == [5000, 9900]
    assert not any("--label-smoothing" in r for r in verdict.remedies)
    assert diagnose(view(rows)) == []                  # without smoothing, 0.34 is far from a perfect D's 0


# --- live: the verdicts `analyze` reaches on the same rows -----------------------------------------

@pytest.mark.parametrize("failure", [orbiting, spreading, exploded, lambda rows: rows])
def test_live_verdicts_are_the_analyzers_on_the_same_rows(tmp_path, healthy, failure):
    rows = failure([dict(r) for r in healthy[:LIVE_ROWS]])
    run = write_run(tmp_path / "run", rows, {}, status=R.RUNNING)
    _, verdicts = analyze_run(run)
    config = R.RunReader(run).config
    assert [v.to_dict() for v in live_verdicts(rows, config)] == [v.to_dict() for v in verdicts]
    on_row = live_warnings(config)
    assert [on_row(r) for r in rows][-1] == [v.title for v in verdicts]


@pytest.mark.parametrize("status, planned, told", [
    (R.INTERRUPTED, 20000, "--steps 20000 (this run: its rows reach step 9900 of the 20000 planned;"),
    (R.FINISHED, 9900, "--steps 19800 (this run: 9900 steps;")])
def test_train_longer_counts_from_the_step_the_run_reached(healthy, status, planned, told):
    """A run stopped by Ctrl-C at step 9,900 of 20,000 was told to resume to 40,000, twice steps it never
    trained: the figure is from the step its rows reach, and at least the total it was started for."""
    (verdict,) = diagnose(view(spreading([dict(r) for r in healthy], 0), status=status, steps=planned, unrolled=10))
    assert told in verdict.remedies[0]


# --- a generator that never reaches the data -------------------------------------------------------

@pytest.mark.parametrize("mixture, fires", [(PIXEL_RING, True), (RING, False)])
def test_a_generator_that_never_reaches_data_far_from_its_start_is_off_the_data_and_told_to_standardise(
        tmp_path, healthy, mixture, fires):
    """G's samples stayed about the origin at scale 1 while the data sat around (500, 400), and analyze
    said nothing. The verdict names where the data and the fakes sit and how to standardise the data;
    the same G against data about the origin (a G at its start on ring8) is not off the data."""
    rows = unreached([dict(r) for r in healthy[:20]], mixture)
    run = write_run(tmp_path / "run", rows, where_g_starts((0, 1000, 1900)), mixture=mixture)
    _, verdicts = analyze_run(run)
    found = [v for v in verdicts if v.rule == "off_the_data"]
    if not fires:
        assert found == []
        return
    assert [v.rule for v in verdicts] == ["off_the_data"]
    (verdict,) = found
    # the data's centre and scale: a ring of radius 20 and stds 0.2 about (500, 400)
    torch.testing.assert_close(verdict.evidence["data_centre"], [500.0, 400.0])
    torch.testing.assert_close(verdict.evidence["data_scale"], float(np.sqrt(20.0 ** 2 / 2 + 0.2 ** 2)))
    assert verdict.evidence[R.EV_STEPS] == [0, 1900] and verdict.evidence["max_on_data"] == 0.0
    assert "the data: around (500, 400) at scale 14.1)" in verdict.message
    assert verdict.remedies == ("standardise the data, which lie far from where G starts: subtract its centre "
                                "(500, 400) and divide by its scale 14.1: set the scenario's centres, radius or "
                                "spacing and stds in those units",)


def test_the_standardising_remedy_of_a_points_run_names_a_command_that_writes_the_standardised_copy(tmp_path,
                                                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    points = Mixture(PIXEL_RING.centres, PIXEL_RING.stds, PIXEL_RING.weights).sample(
        600, torch.Generator().manual_seed(0)).numpy().astype(np.float64)
    np.savetxt(tmp_path / "px.csv", points, delimiter=",")
    data = Spread.of_points(points)
    facts = RunFacts(unreached(healthy_rows(n=5)), {"loss": "nonsaturating", "data": "points", "data_file": "px.csv"},
                     R.FINISHED, [], data, [(0, Spread((0.0, 0.0), 1.0))])
    (verdict,) = [v for v in diagnose(facts) if v.rule == "off_the_data"]
    (remedy,) = verdict.remedies
    command = re.search(r'python -c "(.+)" then --data-file px_std.npy$', remedy).group(1)
    exec(command, {})   # noqa: S102 (the remedy's own one-liner, run where the user would run it)
    copy = np.load("px_std.npy")
    torch.testing.assert_close(copy, (points - points.mean(0)) / np.sqrt(points.var(0).mean()))
    torch.testing.assert_close(Spread.of_points(copy).scale, 1.0)


def test_a_run_diverging_on_data_at_1e30_is_told_to_standardise_the_data(tmp_path, healthy):
    """Points at about 1e30 drove the run to NaN, and the divergence verdict said only to lower the
    learning rates, add a penalty or spectral norm, none of which brings data at 1e30 within reach."""
    for mixture, told in ((Mixture(1e29 * RING.centres + 1e30, 1e29 * RING.stds, RING.weights), True), (RING, False)):
        rows = set_from(unreached([dict(r) for r in healthy[:20]], mixture), 10, D_LOSS=None, G_LOSS=float("nan"))
        run = write_run(tmp_path / str(told), rows, where_g_starts((0, 1000)), mixture=mixture)
        (verdict,) = [v for v in analyze_run(run)[1] if v.rule == "divergence"]
        standardise = [r for r in verdict.remedies if r.startswith("standardise the data")]
        assert standardise == (["standardise the data, which lie far from where G starts: subtract its centre "
                                "(1e+30, 1e+30) and divide by its scale 1.41e+29: set the scenario's centres, radius "
                                "or spacing and stds in those units"] if told else [])
        assert any(r.startswith("lower the learning rates") for r in verdict.remedies)


# --- the rows each rule needs ----------------------------------------------------------------------

#: each rule's failure in as few rows as the rule can find it in
SHORTEST = {
    "divergence": lambda rows: set_from(rows, 0, G_LOSS=float("nan")),
    "exploded": lambda rows: exploded(rows, 1),
    "off_the_data": unreached,
    "d_loss_zero": lambda rows: set_from(rows, 1, D_LOSS=0.01),
    "exploding_gradients": lambda rows: set_from(rows, 1, D_GRAD_NORM=250.0),
    "spiky_d_loss": lambda rows: set_from(rows, 1, D_LOSS=lambda r: 5.0 if r[R.STEP] // EVERY % 2 else 0.1),
    "g_loss_falls_without_progress": lambda rows: set_from(collapsed(rows), 1,
                                                           G_LOSS=lambda r: 3.0 - 0.25 * r[R.STEP] / EVERY, HQ=0.2),
    "mode_collapse": collapsed,
    "mode_hopping": rotating,
    "spreading": spreading,
    "vanishing_g_gradient": lambda rows: set_from(rows, 0, SAT_SHARE=0.95),
}
#: thresholds that change the rows a rule needs
MORE_OR_FEWER = {"exploded": {"min_rows": 1}, "d_loss_zero": {"min_rows": 8}, "spiky_d_loss": {"window": 10},
                 "g_loss_falls_without_progress": {"min_rows": 15}, "mode_collapse": {"tail": 0.5},
                 "vanishing_g_gradient": {"min_probes": 4}, "off_the_data": {"min_rows": 5}}


def shortest_run(name: str, n: int) -> RunFacts:
    rows = SHORTEST[name](healthy_rows(n=n))
    _, steps, near, hq = mode_sequence(rows, [], None)
    windows = oscillation.late(oscillation.windows(steps, near, hq)) if near is not None else []
    return RunFacts(rows, {"loss": LOSS.get(name, "nonsaturating")}, R.FINISHED, windows,
                    Spread.of_mixture(PIXEL_RING), [(r[R.STEP], Spread((0.0, 0.0), 1.0)) for r in rows])


def test_every_rule_has_its_shortest_failure():
    assert set(SHORTEST) == {r.name for r in RULES} and set(MORE_OR_FEWER) <= set(SHORTEST)


@pytest.mark.parametrize("name, changed", [(r.name, {}) for r in RULES] + list(MORE_OR_FEWER.items()))
def test_a_rule_finds_its_failure_in_the_rows_it_says_it_needs_and_not_in_fewer(name, changed):
    """mode_hopping said it needed 8 rows and fired on 4 (its windows start at 4 entries), mode_collapse
    said 10 and fired on 1, and each figure was a literal beside the thresholds it follows from, free to
    drift from them: with the thresholds changed, the figure follows."""
    table = next(r for r in RULES if r.name == name)
    rule = dataclasses.replace(table, thresholds={**table.thresholds, **changed})
    assert not changed or rule.needs != table.needs
    fired = [bool(diagnose(shortest_run(name, n), (rule,))) for n in (rule.needs - 1, rule.needs)]
    assert fired == [False, True]
