"""The Recorder under a user's mistakes and habits: float64 players, a snapshot inside torch.no_grad(),
values and options JSON or the grid cannot take, calls after close. Each is recorded as it should be or
refused in one line, at the call that brings it, with nothing already written lost or left behind."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

import gandiag
from gandiag import record as R
from gandiag.record.recorder import Recorder
from own_loop import Z, players


def _one_line(error: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(error.value)
    return str(error.value)


def _tree(root):
    """Every path under root (hidden ones, folders too) with a file's bytes."""
    return {p.relative_to(root): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("z_dim", [Z, 2])
def test_float64_players_are_snapshotted_in_their_dtype(tmp_path, z_dim):
    """D's grid in the players' dtype, the generator manifold (2D z) too."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, 2)).double()
    D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1)).double()
    with Recorder(tmp_path / "run", target=gandiag.target("ring8"), grid_res=8) as rec:
        rec.snapshot(0, generator=G, discriminator=D, z=torch.randn(64, z_dim, dtype=torch.float64))
    snap = R.RunReader(tmp_path / "run").snapshot(0)
    xx, yy = np.meshgrid(snap[R.SNAP_GRID_X], snap[R.SNAP_GRID_Y])
    with torch.no_grad():
        expected = torch.sigmoid(D(torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float64)))
    assert_close(torch.as_tensor(snap[R.SNAP_D_GRID]), expected.view(8, 8).float(), rtol=1e-5, atol=1e-6)
    assert (R.SNAP_MANIFOLD in snap) == (z_dim == 2)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_a_snapshot_inside_a_no_grad_block_records_as_outside_it_and_leaves_the_mode(tmp_path, mode):
    G, D = players()
    z = torch.randn(64, Z)
    with Recorder(tmp_path / "outside", target=gandiag.target("ring8")) as rec:
        rec.snapshot(0, generator=G, discriminator=D, z=z)
    with Recorder(tmp_path / "inside", target=gandiag.target("ring8")) as rec:
        with getattr(torch, mode)():
            rec.snapshot(0, generator=G, discriminator=D, z=z.clone())   # made under the mode, as a user's z is
            assert not torch.is_grad_enabled()
            assert torch.is_inference_mode_enabled() == (mode == "inference_mode")
    outside, inside = (R.RunReader(tmp_path / n) for n in ("outside", "inside"))
    assert inside.status["status"] == R.FINISHED and inside.metrics() == outside.metrics()
    for key, value in outside.snapshot(0).items():
        assert_close(inside.snapshot(0)[key], value, rtol=0, atol=0)


def test_a_snapshot_refused_for_its_step_order_writes_nothing(tmp_path):
    G, D = players()
    z = torch.randn(64, Z)
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        rec.snapshot(0, generator=G, discriminator=D, z=z)
        rec.log(10, d_loss=1.0)
        before = _tree(tmp_path / "run" / R.SNAPSHOT_DIR)
        with torch.no_grad():
            G[-1].bias += 5.0
        with pytest.raises(R.RunError, match="step 0 comes after step 10"):
            rec.snapshot(0, generator=G, discriminator=D, z=z)
        assert _tree(tmp_path / "run" / R.SNAPSHOT_DIR) == before
    assert [row[R.STEP] for row in R.RunReader(tmp_path / "run").metrics()] == [0, 10]


def test_a_value_json_cannot_hold_is_refused_at_its_call_and_no_row_is_lost(tmp_path):
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        rec.log(0, d_loss=1.0)
        rec.log(1, d_loss=0.9)
        with pytest.raises(R.RunError) as error:
            rec.log(1, g_loss=0.5, lr=torch.optim.lr_scheduler.StepLR)
        assert _one_line(error) == ("lr is the class StepLR, which a run folder cannot hold: give a number, a "
                                    "string, a bool or a 0-d tensor/array instead")
        with pytest.raises(R.RunError, match=r"^opt\.betas\[1\] is of type dtype"):
            rec.log(1, opt={"betas": [0.5, torch.float32]})
        rec.log(2, d_loss=0.8, hist=[np.int64(3), torch.tensor(4)], note="text", ok=True)
    assert R.RunReader(tmp_path / "run").metrics() == [
        {R.STEP: 0, "d_loss": 1.0}, {R.STEP: 1, "d_loss": 0.9},
        {R.STEP: 2, "d_loss": 0.8, "hist": [3, 4], "note": "text", "ok": True}]


def test_recording_after_close_is_refused_and_writes_nothing(tmp_path):
    G, D = players()
    root = tmp_path / "run"
    with Recorder(root, target=gandiag.target("ring8")) as rec:
        rec.log(0, d_loss=1.0)
    before = _tree(root)
    for call in (lambda: rec.log(5, d_loss=2.0), lambda: rec.snapshot(5, fakes=np.zeros((16, 2))),
                 lambda: rec.snapshot(5, generator=G, discriminator=D, z=torch.randn(16, Z)),
                 lambda: rec.checkpoint(5, {"G": G.state_dict()}), lambda: rec.end(R.FINISHED, step=5)):
        with pytest.raises(R.RunError, match="after the recorder closed: .* is no longer written by it") as error:
            call()
        _one_line(error)
    assert _tree(root) == before


def test_closing_inside_the_with_block_ends_it_quietly(tmp_path):
    with Recorder(tmp_path / "run", target=gandiag.target("ring8")) as rec:
        rec.log(0, d_loss=1.0)
        rec.close()
        with pytest.raises(R.RunError, match="log after the recorder closed"):
            rec.log(1, d_loss=1.0)
    assert R.RunReader(tmp_path / "run").metrics() == [{R.STEP: 0, "d_loss": 1.0}]


class Optimiser:
    """A value a config may hold by mistake."""


@pytest.mark.parametrize("folder", ["new", "empty", "yours"])
def test_a_failed_construction_leaves_the_folder_as_it_found_it(tmp_path, folder, monkeypatch):
    root = tmp_path / "runs" / "mine"
    if folder != "new":
        root.mkdir(parents=True)
    if folder == "yours":
        (root / "notes.txt").write_text("mine")
    found = _tree(tmp_path)
    with pytest.raises(R.RunError, match=r"^config\.opt is the class Optimiser") as error:
        Recorder(root, target=gandiag.target("ring8"), config={"opt": Optimiser})
    _one_line(error)
    if folder == "yours":
        with pytest.raises(R.RunError, match="is not empty"):
            Recorder(root, target=gandiag.target("ring8"))
    else:   # a failure after config.json, snapshots/ and checkpoints/ are written
        monkeypatch.setattr(Recorder, "write_status", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            Recorder(root, target=gandiag.target("ring8"))
        monkeypatch.undo()
    assert _tree(tmp_path) == found
    if folder != "yours":
        Recorder(root, target=gandiag.target("ring8"), config={"opt": "adam"}).close()   # the corrected retry


def test_tensors_and_numpy_values_in_the_config_are_stored_as_numbers(tmp_path):
    config = {"lr": torch.tensor(2e-4), "betas": np.array([0.5, 0.999]), "steps": np.int64(100),
              "schedule": {"gamma": np.float32(0.5)}}
    Recorder(tmp_path / "run", config=config).close()
    stored = R.RunReader(tmp_path / "run").config
    assert stored == {"lr": pytest.approx(2e-4), "betas": [0.5, 0.999], "steps": 100, "schedule": {"gamma": 0.5}}


@pytest.mark.parametrize("option, message", [
    ({"grid_res": 0}, "grid_res = 0 is not allowed: expected a whole number >= 2"),
    ({"grid_res": -3}, "grid_res = -3 is not allowed"),
    ({"grid_res": 1}, "grid_res = 1 is not allowed"),
    ({"grid_res": 32.5}, "grid_res = 32.5 is not allowed"),
    ({"grid_chunk": 0}, "grid_chunk = 0 is not allowed: expected a whole number >= 1"),
    ({"keep_checkpoints": -1}, "keep_checkpoints = -1 is not allowed: expected a whole number >= 0"),
    ({"loss": "nope"}, "loss = 'nope' is not allowed: expected one of minimax, nonsaturating"),
    ({"target": "ring8"}, r"target is of type str, not a gandiag target: pass target=gandiag.target\('ring8'\)"),
    ({"target": np.zeros((30, 2))}, r"target is of type ndarray, not a gandiag target: pass target=gandiag.target\("),
])
def test_bad_options_are_refused_when_the_recorder_is_made(tmp_path, option, message):
    kwargs = {"target": gandiag.target("ring8"), **option}
    with pytest.raises(R.RunError, match=message) as error:
        Recorder(tmp_path / "run", **kwargs)
    _one_line(error)
    assert not (tmp_path / "run").exists()


def test_a_points_target_with_fitted_modes_is_pictured_over_the_window_d_is_gridded_on(tmp_path):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, 0.1, (300, 2)) for c in [(100, 100), (103, 100), (100, 103)]])
    target = gandiag.target(points, modes=3)
    G, D = players()
    with Recorder(tmp_path / "run", target=target) as rec:
        rec.snapshot(0, generator=G, discriminator=D, z=torch.randn(64, Z))
    reader = R.RunReader(tmp_path / "run")
    snap = reader.snapshot(0)
    grid = [snap[R.SNAP_GRID_X][0], snap[R.SNAP_GRID_X][-1], snap[R.SNAP_GRID_Y][0], snap[R.SNAP_GRID_Y][-1]]
    assert reader.window() == target.window()
    assert_close(torch.tensor(grid, dtype=torch.float64), torch.tensor(target.window(), dtype=torch.float64),
                 rtol=1e-6, atol=0)



class WithFeatures(nn.Module):
    """A player that returns more than the recorder reads: its output and its features."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x), x


@pytest.mark.parametrize("player, message", [
    ("generator", r"G\(z\) gave a tuple for 16 z: the recorder needs one sample per row .* "
                  r"pass generator=lambda z: G\(z\)\[0\]"),
    ("discriminator", r"D\(x\) gave a tuple for 16 samples: the recorder needs one score per sample, shape \(N,\) "
                      r"or \(N, 1\); pass discriminator=lambda x: D\(x\)\[0\]"),
])
def test_a_player_returning_more_than_its_output_is_refused_naming_the_wrap(tmp_path, player, message):
    G, D = players()
    wrapped = {"generator": G, "discriminator": D, player: WithFeatures(G if player == "generator" else D)}
    with Recorder(tmp_path / "run", target=gandiag.target("ring8"), grid_res=8) as rec:
        with pytest.raises(R.RunError, match=message) as error:
            rec.snapshot(0, **wrapped, z=torch.randn(16, Z))
        _one_line(error)
        rec.snapshot(0, generator=G, discriminator=D, z=torch.randn(16, Z))   # the refused call wrote nothing


@pytest.mark.parametrize("call", ["snapshot", "evaluate"])
def test_a_generator_whose_samples_are_not_the_target_s_shape_is_refused_naming_both(tmp_path, call):
    _, D = players()
    G = nn.Sequential(nn.Linear(Z, 16), nn.ReLU(), nn.Linear(16, 3))   # 3D samples for a 2D target
    with Recorder(tmp_path / "run", target=gandiag.target("ring8"), grid_res=8) as rec:
        with pytest.raises(R.RunError, match=r"G\(z\) gave samples of shape \(3,\), the target's are \(2,\): the "
                                             r"recorder needs G\(z\) of shape \(N, 2\)") as error:
            getattr(rec, call)(0, G, *((D,) if call == "snapshot" else ()), torch.randn(16, Z))
        _one_line(error)
    assert R.RunReader(tmp_path / "run").metrics() == [] and not any((tmp_path / "run" / R.SNAPSHOT_DIR).iterdir())


def test_z_in_another_dtype_than_the_generator_s_is_refused_naming_the_cast(tmp_path):
    G, D = (player.double() for player in players())
    with Recorder(tmp_path / "run", target=gandiag.target("ring8"), grid_res=8) as rec:
        with pytest.raises(R.RunError, match=r"z is torch.float32 and G's parameters are torch.float64: pass "
                                             r"z.to\(torch.float64\)") as error:
            rec.snapshot(0, G, D, torch.randn(16, Z))
        _one_line(error)
        rec.snapshot(0, G, D, torch.randn(16, Z).to(torch.float64))   # the refused call wrote nothing


def test_fakes_given_as_a_tensor_that_requires_grad_are_recorded_and_scored_as_numpy(tmp_path):
    G, _ = players()
    z = torch.randn(64, Z)
    fakes = G.eval()(z)   # straight from G: the tensor carries its graph
    target = gandiag.target("ring8")
    with Recorder(tmp_path / "run", target=target) as rec:
        rec.snapshot(0, fakes=fakes)
    reader = R.RunReader(tmp_path / "run")
    assert_close(torch.as_tensor(reader.snapshot(0)[R.SNAP_FAKES]), fakes.detach(), rtol=0, atol=0)
    assert reader.metrics() == [{R.STEP: 0, **target.metrics(fakes.detach().numpy())}]


@pytest.mark.parametrize("fakes, message", [
    (np.zeros((10, 3)), r"has a 'fakes' array of shape \(10, 3\), not \(S = 10, 2\)"),
    (np.zeros(10), r"has a 'fakes' array of shape \(10,\), not \(S, 2\)"),
    (np.array([["a", "b"]]), r"has a 'fakes' array of <U1 values, not numbers"),
])
def test_fakes_a_reader_would_call_damaged_are_refused_at_the_snapshot_and_nothing_is_written(tmp_path, fakes,
                                                                                            message):
    for target in (gandiag.target("ring8"), None):
        root = tmp_path / str(target is None)
        with Recorder(root, target=target) as rec:
            rec.log(0, d_loss=1.0)
            with pytest.raises(R.RunError, match=r"the snapshot of step 1 " + message) as error:
                rec.snapshot(1, fakes=fakes)
            _one_line(error)
            assert not any((root / R.SNAPSHOT_DIR).iterdir())
            rec.snapshot(1, fakes=np.zeros((10, 2)))   # the refused call left the step free
        assert [row[R.STEP] for row in R.RunReader(root).metrics()] == [0, 1]


def test_a_recorder_never_closed_writes_its_last_row_when_it_is_collected(tmp_path):
    import gc
    G, D = players()
    rec = Recorder(tmp_path / "run", target=gandiag.target("ring8"), grid_res=8)
    rec.log(0, d_loss=1.0)
    rec.log(5, d_loss=2.0)
    rec.snapshot(5, generator=G, discriminator=D, z=torch.randn(16, Z))
    del rec
    gc.collect()
    reader = R.RunReader(tmp_path / "run")
    rows = reader.metrics()
    assert [row[R.STEP] for row in rows] == [0, 5] and R.MODES in rows[1]
    assert reader.status["status"] == R.STOPPED
    Recorder(tmp_path / "other", target=gandiag.target("ring8")).log(0, d_loss=1.0)   # collected at once
    assert R.RunReader(tmp_path / "other").metrics() == [{R.STEP: 0, R.D_LOSS: 1.0}]
