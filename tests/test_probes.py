"""The trainer's probes score D as G trains against it (train mode on the fake batch), sample G in eval
mode, and leave training exactly as it was."""
import copy

import numpy as np
import torch
from torch.testing import assert_close
from tiny import run_steps, toy_config

from gandiag import record as R
from gandiag.nets import build_nets
from gandiag.record.snapshot import as_trained, fakes_of, frozen_batch_statistics, measure_saturation, toy_snapshot
from gandiag.train.saturation_probe import probe_figure
from gandiag.train.session import Session

#: players with every layer whose train mode differs: batch norm in both, spectral norm on D, and
#: dropout that stays on at test time in G
LAYERED = dict(d_norm="batch", g_norm="batch", spectral_norm=True, g_dropout=0.2, engine="reference")


def snapshot(G, D, cfg, z, window):
    """A snapshot as the trainer's Recorder takes it."""
    return toy_snapshot(G, D, z, loss=cfg.loss, window=window, grid_res=cfg.grid_res, manifold_z=None,
                        grid_chunk=cfg.batch)


def players(**overrides):
    torch.manual_seed(0)
    G, D = build_nets(toy_config(**{**LAYERED, **overrides}))
    return G.train(), D.train()


def state(*modules):
    return [copy.deepcopy(m.state_dict()) for m in modules]


def skewed(D):
    """Give D's batch-norm layers running statistics far from any batch's, as a mix of real and fake
    batches leaves them, so eval mode and train mode score the fakes differently."""
    for m in D.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(0.1)
    return D


def test_the_saturation_probe_scores_d_as_g_trains_against_it():
    G, D = players()
    D = skewed(D)
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    row, fakes, logits = measure_saturation(G, D, z)
    as_in_training = copy.deepcopy(D).train()
    with torch.no_grad():
        expected = torch.sigmoid(as_in_training(fakes)).mean()
        in_eval = torch.sigmoid(copy.deepcopy(D).eval()(fakes)).mean()
    assert_close(torch.tensor(row[R.SAT_DLOGIT_MINIMAX]), expected, rtol=1e-6, atol=0)
    assert abs(float(in_eval - expected)) > 0.05       # the running statistics would have scored another D
    assert_close(logits, as_in_training(fakes).detach(), rtol=1e-6, atol=1e-7)


def test_the_probe_figure_keeps_every_label_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    rows = [{R.PROBE_D_STEP: s, R.SAT_GNORM_MINIMAX: 0.1 / (s + 1), R.SAT_GNORM_NONSAT: 0.2} for s in (0, 10, 1999)]
    fig = probe_figure(rows, step=400_000, d_lr=1.2345e-4)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    width, height = fig.bbox.width, fig.bbox.height
    ax = fig.axes[0]
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_legend().get_texts()):
        box = text.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, text.get_text()


def test_probes_leave_every_buffer_and_mode_as_they_found_them():
    G, D = players()
    D.eval()                                           # a mode of the caller's: must come back as it was
    before = state(G, D)
    cfg = toy_config(**LAYERED)
    z = torch.randn(32, 4, generator=torch.Generator().manual_seed(2))
    snapshot(G, D, cfg, z, (-3, 3, -3, 3))
    for old, new in zip(before, state(G, D)):
        assert old.keys() == new.keys()
        for key in old:
            assert_close(new[key], old[key], rtol=0, atol=0)
    assert G.training and not D.training and not any(m.training for m in D.modules())


def test_recording_never_changes_training():
    """Snapshots every step (train-mode D forwards, spectral norm's power iteration, G's dropout) against
    snapshots only at the ends: the players come out bit for bit the same."""
    finals = []
    for every in (1, 6):
        s = Session.for_config(toy_config(**LAYERED, steps=6, snapshot_every=every, log_every=every), "cpu")
        for step in range(1, 7):
            run_steps(s, step, step)
            if step % every == 0:
                snapshot(s.players.G, s.players.D, s.cfg, s.z_snapshot, s.target.window())
        finals.append(state(s.players.G, s.players.D))
    for a, b in zip(*finals):
        for key in a:
            assert_close(b[key], a[key], rtol=0, atol=0)


def test_the_heatmap_scores_any_point_with_the_fake_batch_statistics():
    """For the fakes themselves, frozen statistics give exactly the train-mode scores G's step sees."""
    G, D = players(spectral_norm=False)
    D = skewed(D)
    fakes = fakes_of(G, torch.randn(48, 4, generator=torch.Generator().manual_seed(3)))
    with torch.no_grad(), as_trained(D):
        in_training = D(fakes)
        with frozen_batch_statistics(D, fakes):
            one_by_one = torch.cat([D(x[None]) for x in fakes[:5]])
    assert_close(one_by_one, in_training[:5], rtol=1e-5, atol=1e-6)


def test_live_metrics_sample_a_batch_norm_g_in_eval_mode():
    G, _ = players()
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_(0, 0.5, generator=torch.Generator().manual_seed(4))
    z = torch.randn(256, 4, generator=torch.Generator().manual_seed(5))
    before = state(G)
    samples = fakes_of(G, z).numpy()
    with torch.no_grad():
        expected = copy.deepcopy(G).eval()(z).numpy()
        in_train = copy.deepcopy(G).train()(z).numpy()
    np.testing.assert_allclose(samples, expected, rtol=1e-6)
    assert np.abs(in_train - expected).max() > 1e-2    # the modes differ: eval is a choice, not a no-op
    for key, value in before[0].items():
        assert_close(G.state_dict()[key], value, rtol=0, atol=0)
    assert G.training


def test_a_d_without_train_mode_layers_scores_as_before():
    """A D whose train and eval modes agree (no batch norm, no spectral norm) scores the same either
    way: the train-mode view changes nothing for such players (ring8, say)."""
    G, D = players(d_norm="none", spectral_norm=False)
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(6))
    row, fakes, _ = measure_saturation(G, D, z)
    with torch.no_grad():
        expected = torch.sigmoid(copy.deepcopy(D).eval()(fakes)).mean()
    assert_close(torch.tensor(row[R.SAT_DLOGIT_MINIMAX]), expected, rtol=1e-6, atol=0)
