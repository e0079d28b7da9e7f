"""Each rule fires on a synthetic run that has its failure and stays silent on one that does not."""
import numpy as np
import pytest
from analyzer_synth import EVERY, ROWS, collapsed, healthy_rows, rotating, saturated, set_from
from numpy.testing import assert_allclose

from gandiag import record as R
from gandiag.analyze import live_verdicts, live_warnings, mode_sequence
from gandiag.diagnose import RULES, diagnose, rules_table
from gandiag.facts import RunFacts
from gandiag.metrics import oscillation

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
