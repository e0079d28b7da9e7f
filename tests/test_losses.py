"""Each GAN loss has the value and the gradient its definition says, on hand-picked logits (float64).

Expected values are written from the papers' definitions with the math module, independently of
torch: D = sigmoid(a) for the cross-entropy losses, raw scores for the critics. Every loss is a batch
mean, so each logit's gradient carries a factor 1 / batch size.
"""
import math
import re
import sys
from dataclasses import replace

import pytest
import torch
from hypothesis import given
from torch.testing import assert_close

from gandiag import user_losses
from gandiag.config import ConfigError
from gandiag.losses import PROBABILISTIC, d_loss, d_output, g_loss
from gandiag.record import RunError
from gandiag.train.runs import resume, run
from gandiag.testing import strategies as S
from tiny import toy_config

REAL = [-0.5, 2.0, 0.3]  # 2.0 is past the hinge margin: hinge gives it no gradient
FAKE = [-1.5, 0.25]      # -1.5 is past the hinge margin on the fake side


def sigmoid(a: float) -> float:
    return 1 / (1 + math.exp(-a))


#: kind -> (per-fake value of G's loss, its derivative in the logit)
G_DEFINITIONS = {
    "minimax": (lambda a: math.log(1 - sigmoid(a)), lambda a: -sigmoid(a)),              # Goodfellow 2014
    "nonsaturating": (lambda a: -math.log(sigmoid(a)), lambda a: -(1 - sigmoid(a))),     # Goodfellow 2014
    "least-squares": (lambda a: 0.5 * (a - 1) ** 2, lambda a: a - 1),                    # Mao 2016, c = 1
    "wgan": (lambda a: -a, lambda a: -1.0),                                              # Arjovsky 2017
    "wgan-gp": (lambda a: -a, lambda a: -1.0),                                           # Gulrajani 2017
    "hinge": (lambda a: -a, lambda a: -1.0),                                             # Lim & Ye 2017
}

#: kind -> (per-real value, its derivative, per-fake value, its derivative) of D's loss
D_DEFINITIONS = {
    "minimax": (lambda r: -math.log(sigmoid(r)), lambda r: -(1 - sigmoid(r)),
                lambda f: -math.log(1 - sigmoid(f)), lambda f: sigmoid(f)),
    "least-squares": (lambda r: 0.5 * (r - 1) ** 2, lambda r: r - 1, lambda f: 0.5 * f ** 2, lambda f: f),
    "wgan": (lambda r: -r, lambda r: -1.0, lambda f: f, lambda f: 1.0),
    "hinge": (lambda r: max(0.0, 1 - r), lambda r: -1.0 if r < 1 else 0.0,
              lambda f: max(0.0, 1 + f), lambda f: 1.0 if f > -1 else 0.0),
}
D_DEFINITIONS["nonsaturating"] = D_DEFINITIONS["minimax"]  # the two differ only in G's loss
D_DEFINITIONS["wgan-gp"] = D_DEFINITIONS["wgan"]          # the penalty needs the network: not a logit loss


def logits(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("kind", list(G_DEFINITIONS))
def test_generator_loss_value_and_gradient_follow_the_definition(kind):
    value_of, slope_of = G_DEFINITIONS[kind]
    fake = logits(FAKE)
    loss = g_loss(kind, fake)
    loss.backward()
    n = len(FAKE)
    assert_close(loss.item(), sum(map(value_of, FAKE)) / n)
    assert_close(fake.grad, torch.tensor([slope_of(a) / n for a in FAKE], dtype=torch.float64))


@pytest.mark.parametrize("kind", list(D_DEFINITIONS))
def test_discriminator_loss_value_and_gradient_follow_the_definition(kind):
    real_value, real_slope, fake_value, fake_slope = D_DEFINITIONS[kind]
    real, fake = logits(REAL), logits(FAKE)
    loss = d_loss(kind, real, fake)
    loss.backward()
    expected = sum(map(real_value, REAL)) / len(REAL) + sum(map(fake_value, FAKE)) / len(FAKE)
    assert_close(loss.item(), expected)
    assert_close(real.grad, torch.tensor([real_slope(r) / len(REAL) for r in REAL], dtype=torch.float64))
    assert_close(fake.grad, torch.tensor([fake_slope(f) / len(FAKE) for f in FAKE], dtype=torch.float64))


#: kind -> per-sample D loss against a soft label t
SOFT_LABEL_TERMS = {
    "minimax": lambda a, t: -t * math.log(sigmoid(a)) - (1 - t) * math.log(1 - sigmoid(a)),  # cross-entropy
    "least-squares": lambda a, t: 0.5 * (a - t) ** 2,                                         # squared distance
}


@pytest.mark.parametrize("kind", list(SOFT_LABEL_TERMS))
def test_smoothed_targets_enter_the_discriminator_loss_as_labels(kind):
    term, t_real, t_fake = SOFT_LABEL_TERMS[kind], 0.9, 0.1
    loss = d_loss(kind, logits(REAL), logits(FAKE), t_real, t_fake)
    expected = sum(term(r, t_real) for r in REAL) / len(REAL) + sum(term(f, t_fake) for f in FAKE) / len(FAKE)
    assert_close(loss.item(), expected)


@pytest.mark.parametrize("kind, value, slope", [
    ("minimax", 0.0, 0.0),              # log(1 - D) -> 0 and its gradient -D -> 0: saturated
    ("nonsaturating", 1e4, -1.0),       # -log D = -a for a << 0, gradient -(1 - D) -> -1
    ("least-squares", 0.5 * 10001.0 ** 2, -10001.0),
    ("hinge", 1e4, -1.0),
])
def test_generator_losses_at_an_extreme_logit_follow_the_definition_in_float32(kind, value, slope):
    fake = torch.tensor([-1e4], dtype=torch.float32, requires_grad=True)
    loss = g_loss(kind, fake)
    loss.backward()
    assert_close(loss.item(), value)
    assert_close(fake.grad, torch.tensor([slope]))


@given(S.generator_inputs())
def test_minimax_gradient_is_minus_d_of_the_fake(example):
    fake = logits(example["fake"])
    g_loss("minimax", fake).backward()
    assert_close(fake.grad, -torch.sigmoid(fake.detach()) / len(example["fake"]))


@given(S.generator_inputs())
def test_nonsaturating_gradient_is_minus_one_minus_d_of_the_fake(example):
    fake = logits(example["fake"])
    g_loss("nonsaturating", fake).backward()
    assert_close(fake.grad, -(1 - torch.sigmoid(fake.detach())) / len(example["fake"]))


@pytest.mark.parametrize("kind", list(G_DEFINITIONS))
def test_d_output_is_the_probability_for_cross_entropy_losses_and_the_score_for_critics(kind):
    a = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    assert_close(d_output(kind, a), torch.sigmoid(a) if kind in PROBABILISTIC else a)


def test_unknown_loss_names_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown loss 'bce'.*nonsaturating"):
        g_loss("bce", torch.zeros(1))
    with pytest.raises(ValueError, match="unknown loss 'bce'.*hinge"):
        d_loss("bce", torch.zeros(1), torch.zeros(1))


def test_a_run_is_not_resumed_with_an_own_loss_whose_source_has_changed(tmp_path):
    loss = tmp_path / "mine.py"
    loss.write_text("import torch.nn.functional as F\n\ndef g(fake):\n    return F.softplus(-fake).mean()\n")
    run(toy_config(steps=4, g_loss=f"{loss}:g", device="cpu"), tmp_path / "run", quiet=True)
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    loss.write_text("import torch.nn.functional as F\n\ndef g(fake):\n    return -F.softplus(fake).mean()\n")
    with pytest.raises(RunError, match=r"cannot go on as the same run: its g_loss .*mine\.py:g has changed since it "
                                       r"trained \(sha256 [0-9a-f]{12}, now [0-9a-f]{12}\): put back the source "
                                       r"config\.json holds under losses\.g_loss\.source, or start a new run$"):
        resume(tmp_path / "run", steps=8, quiet=True)
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before


def test_an_own_loss_that_changes_its_logits_in_place_is_refused_in_training_saying_so(tmp_path):
    (tmp_path / "mine.py").write_text("import torch.nn.functional as F\n\ndef g(fake):\n    fake.mul_(2)\n"
                                      "    return F.softplus(-fake).mean()\n")
    with pytest.raises(ConfigError, match=r"^g_loss = '.*mine\.py:g' changes its argument in place: a loss reads "
                                          r"D's logits, it does not write them \(work on a copy"):
        user_losses.load(f"{tmp_path}/mine.py:g", "g_loss")


def test_a_library_run_with_an_own_loss_file_leaves_sys_path_as_it_was_and_the_file_imports_its_neighbours(tmp_path):
    (tmp_path / "mine.py").write_text("import torch.nn.functional as F\nfrom helpers import SCALE\n\n"
                                      "def g(fake):\n    return SCALE * F.softplus(-fake).mean()\n")
    (tmp_path / "helpers.py").write_text("SCALE = 2.0\n")
    path = list(sys.path)
    run(toy_config(steps=2, g_loss=f"{tmp_path}/mine.py:g", device="cpu"), tmp_path / "run", quiet=True)
    assert sys.path == path and "helpers" not in sys.modules


def mine_in(folder, sign="-"):
    folder.mkdir()
    (folder / "mine.py").write_text(f"import torch.nn.functional as F\n\ndef g(fake):\n"
                                    f"    return F.softplus({sign}fake).mean()\n")


def straight_and_resumed_from(tmp_path, monkeypatch, where: str) -> tuple[dict, dict]:
    """The last rows of 8 steps of mine.py:g (relative, from tmp_path/project) trained straight, and of
    4 steps resumed to 8 from tmp_path/`where`."""
    monkeypatch.chdir(tmp_path / "project")
    cfg = toy_config(steps=8, checkpoint_every=4, g_loss="mine.py:g", device="cpu")
    straight = run(cfg, tmp_path / "straight", quiet=True).last
    run(replace(cfg, steps=4), tmp_path / "run", quiet=True)
    monkeypatch.chdir(tmp_path / where)
    return straight, resume(tmp_path / "run", steps=8, quiet=True).last


def test_a_run_made_with_a_relative_loss_path_resumes_from_another_directory(tmp_path, monkeypatch):
    mine_in(tmp_path / "project")
    assert_close(*straight_and_resumed_from(tmp_path, monkeypatch, "."))


def test_a_resumed_run_whose_relative_loss_file_is_gone_says_where_it_looked(tmp_path, monkeypatch):
    mine_in(tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    run(toy_config(steps=4, checkpoint_every=4, g_loss="mine.py:g", device="cpu"), tmp_path / "run", quiet=True)
    (tmp_path / "project" / "mine.py").unlink()
    monkeypatch.chdir(tmp_path)
    message = (f"g_loss = 'mine.py:g': no file {tmp_path}/project/mine.py (where the run started) nor mine.py in "
               f"{tmp_path}: put the file back (config.json holds its source under losses.g_loss.source)")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        resume(tmp_path / "run", steps=8, quiet=True)


def test_a_relative_loss_path_resumed_beside_another_file_of_that_name_trains_on_with_the_one_it_started_with(
        tmp_path, monkeypatch):
    mine_in(tmp_path / "project")
    mine_in(tmp_path / "elsewhere", sign="")
    assert_close(*straight_and_resumed_from(tmp_path, monkeypatch, "elsewhere"))


@pytest.mark.parametrize("field, name, message", [
    ("g_loss", "d", "d(real, fake) cannot be called as a generator loss, f(fake_logits): a discriminator loss is "
                    "f(real_logits, fake_logits) (give it as d_loss)"),
    ("d_loss", "g", "g(fake) cannot be called as a discriminator loss, f(real_logits, fake_logits): a generator "
                    "loss is f(fake_logits) (give it as g_loss)"),
])
def test_an_own_loss_of_the_other_role_is_refused_in_training_naming_the_role_it_fits(tmp_path, field, name, message):
    (tmp_path / "mine.py").write_text("def g(fake):\n    return -fake.mean()\n\n"
                                      "def d(real, fake):\n    return fake.mean() - real.mean()\n")
    spec = f"{tmp_path}/mine.py:{name}"
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{field} = {spec!r}: {message}')}$"):
        run(toy_config(steps=2, device="cpu", **{field: spec}), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_an_own_loss_that_imports_its_neighbour_when_called_is_told_to_import_it_at_the_top(tmp_path):
    (tmp_path / "mine.py").write_text("def g(fake):\n    from helpers import SCALE\n    return SCALE * fake.mean()\n")
    (tmp_path / "helpers.py").write_text("SCALE = -1.0\n")
    message = (f"g_loss = '{tmp_path}/mine.py:g' fails on a batch of logits: ModuleNotFoundError: No module named "
               "'helpers' (helpers beside the file is importable from its top level only: import it there)")
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        user_losses.load(f"{tmp_path}/mine.py:g", "g_loss")
