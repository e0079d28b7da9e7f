"""The class-label options on image data: `conditional` (class embedding in G, projection D) and
`aux_classifier` (AC-GAN: D predicts the class, its cross-entropy joins both players' losses)."""
import copy
import re

import pytest
import torch
from torch.nn.functional import cross_entropy
from torch.testing import assert_close

from gandiag import losses
from gandiag.config import ConfigError, load_config, to_dict
from gandiag.diagnose import RULES
from gandiag.remedies import for_run
from gandiag.nets import build_nets
from gandiag.stabilizers import build_stabilizers
from gandiag.engine.reference import Players, train_step

N, Z = 8, 6


def players(**options):
    cfg = load_config("mnist", g_width=2, d_width=2, z_dim=Z, batch=N, **options)
    torch.manual_seed(0)
    G, D = build_nets(cfg)
    opt = lambda net: torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))  # noqa: E731
    return cfg, Players(G, D, opt(G), opt(D))


def one_step(cfg, p: Players):
    """One iteration on a fixed real batch with classes 0..N-1 mod 10 and a fixed z."""
    gen = torch.Generator().manual_seed(1)
    real, labels = torch.rand(N, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(N) % 10
    z = torch.randn(N, Z, generator=gen)
    stab = build_stabilizers(cfg, p, lambda n: real, gen)
    train_step(p, stab, cfg, lambda n: real, lambda n: z, gen, 1, lambda n: (real, labels))
    return real, labels, z


def exactly(a, b, same: bool):
    """a == b bit for bit when `same`, else not (the class effect of a tiny freshly initialised net is small)."""
    if same:
        assert_close(a, b, rtol=0, atol=0)
    else:
        with pytest.raises(AssertionError):
            assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("conditional", [False, True])
def test_conditional_makes_both_players_depend_on_the_class(conditional):
    cfg, p = players(conditional=conditional)
    real, labels, z = one_step(cfg, p)  # D's projection starts at zero: one step gives it a class dependence
    other = (labels + 1) % 10  # per sample, so G's batch norm cannot absorb the change
    with torch.no_grad():
        exactly(p.G(z, labels), p.G(z, other), same=not conditional)
        exactly(p.D(real, labels), p.D(real, other), same=not conditional)


@pytest.mark.parametrize("aux", [False, True])
def test_aux_classifier_adds_the_class_cross_entropy_to_both_losses(aux):
    cfg, p = players(aux_classifier=aux)
    G0, D0 = copy.deepcopy(p.G), copy.deepcopy(p.D)
    real, labels, z = one_step(cfg, p)
    if not aux:
        assert p.D.classes is None
    else:  # D's class head: only the cross-entropy terms on reals and fakes reach it
        with torch.no_grad():
            fake = G0(z, labels)
        head = cross_entropy(D0.class_logits(real), labels) + cross_entropy(D0.class_logits(fake), labels)
        expected = torch.autograd.grad(head, [D0.classes.weight, D0.classes.bias])
        assert_close([p.D.classes.weight.grad, p.D.classes.bias.grad], list(expected))
    # G's step plays against the updated D: its gradient is that of the GAN loss (+ the class term)
    fake = G0(z, labels)
    loss_g = losses.g_loss(cfg.loss, p.D(fake))
    if aux:
        loss_g = loss_g + cross_entropy(p.D.class_logits(fake), labels)
    expected = torch.autograd.grad(loss_g, list(G0.parameters()))
    assert_close([q.grad for q in p.G.parameters()], list(expected))


def test_class_options_refuse_data_and_tricks_without_known_classes():
    with pytest.raises(ConfigError, match="need class labels"):
        load_config("ring8", conditional=True)
    for trick in ({"pack": 2}, {"unrolled": 1}, {"replay_size": 64}):
        with pytest.raises(ConfigError, match="do not combine"):
            build_nets(load_config("mnist", aux_classifier=True, **trick))


@pytest.mark.parametrize("labels", [{"conditional": True}, {"aux_classifier": True}])
def test_a_class_label_run_is_not_told_the_tricks_its_config_refuses(labels):
    told = lambda config: [t for rule in RULES for t in for_run(rule.remedies, to_dict(config))]  # noqa: E731
    tricks = re.compile("--unrolled|--pack|--replay-size")
    assert [t for t in told(load_config("mnist", **labels)) if tricks.search(t)] == []
    assert "minibatch discrimination: --minibatch-disc" in told(load_config("mnist", **labels))
    assert [t for t in told(load_config("mnist")) if tricks.search(t)]   # a plain image run is told them
