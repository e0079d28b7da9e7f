"""The property kit applied to every built-in loss and stabilizer, to deliberately broken ones (each must
be caught under the right property), and through `gandiag check-loss`."""
import os
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.testing import assert_close

import broken_losses
from gandiag.cli import main
from gandiag import losses
from gandiag.config import LOSSES
from gandiag.nets.layers import MinibatchDiscrimination
from gandiag.nets.mlp import apply_spectral_norm
from gandiag.stabilizers.averaging import HistoricalAverage
from gandiag.stabilizers.penalties import gradient_penalty
from gandiag.stabilizers.unrolled import unroll
from gandiag.testing import (OPTIMUM_CHOICES, KitError, check_loss, load_loss, loss_properties,
                             parametrize_properties, saturation_profile)
from gandiag.testing import properties as P
from gandiag.testing import strategies as S
from gandiag.testing import stabilizer_properties as SP
from gandiag.testing.search import searching_with


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "my_loss.py"


def g_of(kind):
    return lambda fake: losses.g_loss(kind, fake)


def d_of(kind):
    return lambda real, fake: losses.d_loss(kind, real, fake)


def d_with_target(kind, uses_target):
    """D's loss taking a real target; or one that ignores it, as a loss without smoothing would."""
    return lambda real, fake, t: losses.d_loss(kind, real, fake, t if uses_target else 1.0)


def failing(loss, role, **options) -> set:
    """Names of the kit's properties that fail on `loss`, under the loaded (dev or ci) profile."""
    return {name for name, check in loss_properties(role, **options).items() if not check(loss).passed}


def derandomized(examples: int = 30):
    """Search `examples` inputs under the "ci" profile: a broken variant needs more of them than the dev
    profile's 10 to be caught, and under any loaded profile (explore draws at random) the same ones."""
    return searching_with(settings(settings.get_profile("ci"), max_examples=examples))


def table_rows(output: str) -> dict:
    """check-loss's table as {property: PASS or FAIL}."""
    cells = [line.split(maxsplit=2) for line in output.splitlines()]
    return {c[0]: c[1] for c in cells if len(c) > 1 and c[1] in ("PASS", "FAIL")}


# --- built-in losses ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", LOSSES)
def test_builtin_generator_losses_have_the_generator_properties_and_only_minimax_saturates(kind):
    assert failing(g_of(kind), "generator") == ({"non_saturating_gradient"} if kind == "minimax" else set())


@pytest.mark.parametrize("kind", LOSSES)
def test_builtin_discriminator_losses_have_the_discriminator_properties(kind):
    assert failing(d_of(kind), "discriminator") == set()


@pytest.mark.parametrize("kind, optimum", [("minimax", "cross-entropy"), ("nonsaturating", "cross-entropy"),
                                           ("least-squares", "least-squares"), ("hinge", "hinge"),
                                           ("wgan", "wasserstein"), ("wgan-gp", "wasserstein")])
def test_builtin_discriminator_losses_reach_their_familys_optimal_discriminator(kind, optimum):
    assert failing(d_of(kind), "discriminator", optimum=optimum) == set()


@pytest.mark.parametrize("kind, optimum, prop", [("least-squares", "cross-entropy", "optimal_discriminator"),
                                                 ("hinge", "wasserstein", "wasserstein_critic_duality")])
def test_optimal_discriminator_rejects_another_familys_optimum(kind, optimum, prop):
    with derandomized():
        assert failing(d_of(kind), "discriminator", optimum=optimum) == {prop}


@pytest.mark.parametrize("kind, profile", [("minimax", P.SATURATING), ("nonsaturating", P.NON_SATURATING),
                                           ("least-squares", P.GROWING), ("wgan", P.NON_SATURATING),
                                           ("wgan-gp", P.NON_SATURATING), ("hinge", P.NON_SATURATING)])
def test_saturation_profile_classifies_each_builtin_generator_loss(kind, profile):
    assert saturation_profile(g_of(kind)) == profile


def test_a_loss_of_one_value_per_sample_is_refused_by_the_profile_as_by_the_properties():
    per_sample = lambda fake: -torch.nn.functional.logsigmoid(fake)  # noqa: E731  (no .mean())
    with pytest.raises(ValueError, match=r"^the loss returned Tensor of shape \(2,\), expected a scalar tensor$"):
        saturation_profile(per_sample)
    with pytest.raises(ValueError, match=r"^the loss returned float, expected a scalar tensor$"):
        saturation_profile(lambda fake: 1.0)


def test_a_loss_never_finite_fails_every_property_as_never_checked_and_has_no_profile():
    never = lambda fake: fake.mean() * float("nan")  # noqa: E731
    results = {r.name: r for r in check_loss(never, "generator").results}
    assert not any(r.passed for r in results.values())
    assert {name for name, r in results.items() if r.detail.startswith("never checked")} == \
        set(results) - {"finite_value_and_gradient"}
    assert saturation_profile(never) == P.UNKNOWN_PROFILE


@pytest.mark.parametrize("kind, family", [("minimax", "cross-entropy"), ("nonsaturating", "cross-entropy"),
                                          ("least-squares", "least-squares")])
def test_label_smoothing_bounds_optimum_holds_for_smoothed_targets_and_fails_without_them(kind, family):
    assert P.label_smoothing_bounds_optimum(d_with_target(kind, True), family).passed
    with derandomized():
        assert not P.label_smoothing_bounds_optimum(d_with_target(kind, False), family).passed


@given(S.mixtures(), st.tuples(st.floats(-3, 3), st.floats(-3, 3)))
def test_log_density_of_a_drawn_mixture_is_scipys(mixture, offset):
    x = mixture.centres[-1] + np.asarray(offset) * 10 * mixture.stds[-1]  # up to 30 stds: pdf underflows to 0
    expected = logsumexp([np.log(w) + multivariate_normal(c, s ** 2 * np.eye(2)).logpdf(x)
                          for c, s, w in zip(mixture.centres, mixture.stds, mixture.weights)])
    assert_allclose(S.log_density(mixture, x), [expected], rtol=1e-9)


@given(S.discriminator_inputs(real=(-0.1, 0.3), fake=(1e-3, 1e39)))
def test_logit_strategies_take_bounds_float32_cannot_hold_and_draw_float32_inside_them(example):
    for key, (lo, hi) in (("real", (-0.1, 0.3)), ("fake", (1e-3, 1e39))):
        assert all(lo <= a <= hi and float(np.float32(a)) == a for a in example[key])
    inwards = [float(np.nextafter(np.float32(b), np.float32(0))) for b in (-0.1, 0.3)]   # float32 rounds both out
    assert S._float32_inside(-0.1, 0.3) == tuple(inwards)


@given(S.points(3, bound=0.1))
def test_point_strategies_take_a_bound_float32_cannot_hold_and_draw_float32_inside_it(points):
    assert all(len(p) == 3 and all(-0.1 <= c <= 0.1 and float(np.float32(c)) == c for c in p) for p in points)


# --- broken losses: caught under the right property, by the library and by the CLI -------------

@pytest.mark.parametrize("name", list(broken_losses.CAUGHT_BY))
def test_each_broken_loss_fails_exactly_its_property_in_the_library(name):
    role, prop = broken_losses.CAUGHT_BY[name]
    report = check_loss(getattr(broken_losses, name), role, examples=10)
    assert {r.name for r in report.results if not r.passed} == {prop}
    assert not report.passed


@pytest.mark.parametrize("name", list(broken_losses.CAUGHT_BY))
def test_each_broken_loss_fails_exactly_its_property_in_check_loss(name):
    role, prop = broken_losses.CAUGHT_BY[name]
    result = CliRunner().invoke(main, ["check-loss", f"{broken_losses.__file__}:{name}", "--role", role,
                                       "--examples", "10"])
    assert result.exit_code == 1, result.output
    rows = table_rows(result.output)
    assert set(rows) == set(loss_properties(role))
    assert {k for k, v in rows.items() if v == "FAIL"} == {prop}


def test_a_d_loss_written_over_real_and_fake_side_by_side_passes_every_property():
    """(softplus(-real) + softplus(fake)).mean() is D's cross-entropy for batches of one size, as training gives
    them; the kit drew batches of different sizes, so it raised a size mismatch in two of three properties."""
    assert failing(lambda real, fake: (F.softplus(-real) + F.softplus(fake)).mean(), "discriminator") == set()


def test_failed_result_raises_an_assertion_naming_the_property_and_counterexample():
    with derandomized():
        result = P.non_saturating_gradient(broken_losses.saturating_non_saturating)
    with pytest.raises(AssertionError, match=r"non_saturating_gradient fails on fake=\[.*\]: \|dL/da\| = "):
        result.raise_if_failed()


@parametrize_properties("generator")
def test_parametrize_properties_makes_one_test_per_property(check):
    check(g_of("nonsaturating")).raise_if_failed()


# --- check-loss: loading, options, errors ------------------------------------------------------

def test_check_loss_passes_the_example_loss_and_shows_its_profile():
    result = CliRunner().invoke(main, ["check-loss", f"{EXAMPLE}:g_loss", "--role", "generator", "--examples", "10"])
    assert result.exit_code == 0, result.output
    assert "saturation profile: non-saturating" in result.output
    assert "all 4 properties hold" in result.output


def test_check_loss_optimum_adds_the_optimal_discriminator_check():
    args = ["check-loss", f"{EXAMPLE}:d_loss_smoothed", "--role", "discriminator", "--examples", "10"]
    plain = CliRunner().invoke(main, args)
    with_optimum = CliRunner().invoke(main, args + ["--optimum", "cross-entropy"])
    assert plain.exit_code == 0 and "optimal_discriminator" not in table_rows(plain.output)
    assert with_optimum.exit_code == 1 and table_rows(with_optimum.output)["optimal_discriminator"] == "FAIL"


def test_check_loss_help_lists_every_optimum_family():
    unwrapped = "".join(CliRunner().invoke(main, ["check-loss", "--help"]).output.split())
    assert all(family in unwrapped for family in OPTIMUM_CHOICES)


def test_check_loss_examples_sets_the_inputs_tried_per_property(tmp_path):
    calls = tmp_path / "calls.txt"   # the check runs in a process of its own: the loss counts into a file
    (tmp_path / "counted_loss.py").write_text(textwrap.dedent(f"""
        import torch.nn.functional as F
        def g(fake):
            with open({str(calls)!r}, "a") as f:
                f.write("x")
            return F.softplus(-fake).mean()
    """))
    counts = []
    for n in ("3", "12"):
        calls.write_text("")
        CliRunner().invoke(main, ["check-loss", f"{tmp_path}/counted_loss.py:g", "--role", "generator",
                                  "--examples", n])
        counts.append(len(calls.read_text()))
    assert 0 < counts[0] < counts[1]


def test_check_loss_imports_a_module_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "loss_in_cwd.py").write_text("import torch.nn.functional as F\n"
                                             "def g(fake):\n    return F.softplus(-fake).mean()\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check-loss", "loss_in_cwd:g", "--role", "generator", "--examples", "5"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("spec, message", [
    ("no_such_file.py:g", f"Error: no file 'no_such_file.py' in {os.getcwd()}: give the path to a .py file"),
    (f"{EXAMPLE}:nope", f"Error: '{EXAMPLE}' has no function 'nope'"),
    (f"{EXAMPLE}", f"Error: '{EXAMPLE}' does not name a function"),
    ("no_such_module_xyz:g", "Error: cannot import 'no_such_module_xyz': ModuleNotFoundError"),
])
def test_check_loss_reports_a_loss_it_cannot_load_in_one_line(spec, message):
    result = CliRunner().invoke(main, ["check-loss", spec, "--role", "generator"])
    assert result.exit_code == 1
    assert result.output.startswith(message) and len(result.output.strip().splitlines()) == 1


def test_check_loss_reports_a_module_that_fails_on_import_in_one_line(tmp_path):
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('boom')\n")
    result = CliRunner().invoke(main, ["check-loss", f"{tmp_path}/raises_on_import.py:g", "--role", "generator"])
    assert result.output.strip() == f"Error: cannot import '{tmp_path}/raises_on_import.py': RuntimeError: boom"


@pytest.mark.parametrize("role, optimum, message", [
    ("generator", "cross-entropy", "optimum 'cross-entropy' is not allowed for a generator loss: "
                                   "it applies to discriminator losses"),
    ("discriminator", "bce", "optimum 'bce' is not allowed: expected one of " + ", ".join(OPTIMUM_CHOICES)),
])
def test_check_loss_refuses_an_optimum_that_does_not_apply_in_one_line(role, optimum, message):
    result = CliRunner().invoke(main, ["check-loss", f"{EXAMPLE}:d_loss", "--role", role, "--optimum", optimum])
    assert (result.exit_code, result.output.strip()) == (1, f"Error: {message}")


@pytest.mark.parametrize("name, role, message", [
    ("d_loss", "generator", "d_loss(real_logits, fake_logits) cannot be called as a generator loss, f(fake_logits): "
                            "a discriminator loss is f(real_logits, fake_logits) (--role discriminator)"),
    ("g_loss", "discriminator", "g_loss(fake_logits) cannot be called as a discriminator loss, f(real_logits, "
                                "fake_logits): a generator loss is f(fake_logits) (--role generator)"),
])
def test_a_loss_checked_under_the_other_role_is_one_line_naming_the_role_it_fits(name, role, message):
    result = CliRunner().invoke(main, ["check-loss", f"{EXAMPLE}:{name}", "--role", role, "--examples", "5"])
    assert (result.exit_code, result.output.strip()) == (1, f"Error: {message}")
    with pytest.raises(KitError, match=re.escape(message)):
        check_loss(load_loss(f"{EXAMPLE}:{name}"), role)


def per_sample(fake_logits):
    return torch.nn.functional.softplus(-fake_logits)


def through_numpy(fake_logits):
    return torch.tensor(np.log1p(np.exp(-fake_logits.detach().numpy())).mean())


def clamps_in_place(real_logits, fake_logits):
    real_logits.clamp_(max=5.0)
    return torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()


@pytest.mark.parametrize("loss, role, reason", [
    (per_sample, "generator", "returns Tensor of shape (8,): expected a scalar tensor (reduce over the batch, "
                              "e.g. .mean())"),
    (through_numpy, "generator", "has no gradient with respect to the logits: compute it with torch operations on "
                                 "them (no .item(), numpy or .detach())"),
    (clamps_in_place, "discriminator", "changes its argument in place: a loss reads D's logits, it does not write "
                                       "them (work on a copy, x = x.clone(), or out of place: x = x * 2, not "
                                       "x.mul_(2))"),
])
def test_a_loss_without_a_scalar_gradient_or_that_writes_its_logits_is_one_line_not_every_property_failed(
        loss, role, reason):
    with pytest.raises(KitError, match="^" + re.escape(f"{loss.__name__} {reason}") + "$"):
        check_loss(loss, role, examples=3)


@pytest.mark.parametrize("examples", [0, -1, 2.5])
def test_check_loss_refuses_a_number_of_examples_it_cannot_try_in_one_line(examples):
    with pytest.raises(KitError, match=rf"^examples = {examples} is not allowed: expected a whole number of at "
                                       r"least 1 \(the inputs each property tries\), or None"):
        check_loss(g_of("nonsaturating"), "generator", examples=examples)


def test_a_loss_file_imports_its_neighbours_and_leaves_sys_path_and_sys_modules_as_they_were(tmp_path):
    # named as a module the process has, beside a neighbour it imports: neither may stand in for another
    (tmp_path / "random.py").write_text("from helpers import SCALE\n\ndef g(fake):\n    return SCALE * fake.mean()\n")
    (tmp_path / "helpers.py").write_text("SCALE = 3.0\n")
    path, modules = list(sys.path), dict(sys.modules)
    g = load_loss(f"{tmp_path}/random.py:g")
    assert (sys.path, sys.modules) == (path, modules)
    assert_close(g(torch.tensor([1.0, 2.0])), torch.tensor(4.5))


def test_load_loss_returns_the_named_function():
    assert load_loss(f"{EXAMPLE}:g_loss").__name__ == "g_loss"


# --- stabilizers: gandiag's pass, a broken variant of each fails ----------------------------------

def grad_norm_squared(critic, real, fake):
    """A broken penalty: E ||grad||^2 without the -1, which charges even a 1-Lipschitz critic."""
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    return (grad.norm(dim=1) ** 2).mean()


class FrobeniusNorm(nn.Module):
    """A broken spectral norm: W / ||W||_F leaves the largest singular value below 1 for rank > 1."""

    def forward(self, w):
        return w / w.norm()


class PositionAware(nn.Module):
    """A broken minibatch layer: it adds each sample's position in the batch."""

    def forward(self, f):
        return torch.cat([f, torch.arange(len(f), dtype=f.dtype)[:, None]], dim=1)


class AverageWithoutStart(HistoricalAverage):
    """A broken average that leaves the initial parameters out: its first update replaces the mean."""

    def update(self, module):
        if self.count == 1:
            self.count = 0
        super().update(module)


def unrolled_with(extra_steps):
    def unrolled(D, k):
        opt = torch.optim.Adam(D.parameters(), lr=0.01)
        real, fake = torch.ones(4, 2, dtype=torch.float64), -torch.ones(4, 2, dtype=torch.float64)
        return unroll(D, opt, lambda D_k, params: losses.d_loss("nonsaturating", D_k(real), D_k(fake)),
                      k + extra_steps)
    return unrolled


def minibatch_layer():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return MinibatchDiscrimination(3, kernels=4, dim=2)


STABILIZER_CASES = [
    (SP.gradient_penalty_zero_for_unit_linear_critic, (gradient_penalty,), True),
    (SP.gradient_penalty_zero_for_unit_linear_critic, (grad_norm_squared,), False),
    (SP.spectral_norm_unit_sigma, (apply_spectral_norm,), True),
    (SP.spectral_norm_unit_sigma, (lambda m: parametrize.register_parametrization(m, "weight", FrobeniusNorm()),),
     False),
    (SP.minibatch_features_permutation_equivariant, (minibatch_layer(), 3), True),
    (SP.minibatch_features_permutation_equivariant, (PositionAware(), 3), False),
    (SP.unrolled_k0_equals_vanilla, (unrolled_with(0),), True),
    (SP.unrolled_k0_equals_vanilla, (unrolled_with(1),), False),
    (SP.historical_average_zero_at_mean, (HistoricalAverage,), True),
    (SP.historical_average_zero_at_mean, (AverageWithoutStart,), False),
]


@pytest.mark.parametrize("prop, args, holds", STABILIZER_CASES,
                         ids=[f"{p.__name__}-{'builtin' if h else 'broken'}" for p, _, h in STABILIZER_CASES])
def test_stabilizer_property_holds_for_gandiags_and_fails_for_a_broken_variant(prop, args, holds):
    with derandomized():
        result = prop(*args)
    assert result.passed == holds, result



def test_the_suites_profiles_draw_the_same_examples_every_run_and_explore_draws_new_ones():
    # README's test command gives one answer: a random draw of the CLI fuzz once failed one CI run in several
    # (comparing two searches' examples is itself unstable: hypothesis adapts a search to what came before)
    assert settings.get_profile("dev").derandomize and settings.get_profile("ci").derandomize
    assert not settings.get_profile("explore").derandomize
