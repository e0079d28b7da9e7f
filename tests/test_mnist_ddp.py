"""Data-parallel training with gloo on CPU: two processes, one run folder, identical players."""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch.testing import assert_close

from gandiag import record as R
from gandiag.config import load_config
from gandiag.train import ddp, run
from gandiag.train.checkpoints import load_checkpoint
from tiny import IMAGE

#: three steps, each writing its row, snapshot and checkpoint once at the end
TINY = {**IMAGE, "steps": 3, "log_every": 3, "snapshot_every": 3, "checkpoint_every": 3, "eval_samples": 40}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank: int, out, port: int, results) -> None:
    """One of the two processes torchrun would start; it saves its G's parameters when done."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    players, join = [], ddp.join

    def keep(p, gen, seed):
        players.append(p)
        join(p, gen, seed)

    ddp.join = keep
    run(load_config("mnist", **TINY), out, quiet=True)
    torch.save(dict(players[0].G.named_parameters()), results / f"G{rank}.pt")


def final_g(root) -> dict:
    ckpt = load_checkpoint(root / R.CHECKPOINT_DIR / R.checkpoint_name(3))
    return {k: v for k, v in ckpt["G"].items() if "running" not in k and "num_batches" not in k}


def test_two_gloo_ranks_train_identical_players_into_one_run_folder(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(cache))
    out, results = tmp_path / "run", tmp_path / "results"
    results.mkdir()
    mp.spawn(rank_main, args=(out, free_port(), results), nprocs=2)
    g0, g1 = (torch.load(results / f"G{r}.pt") for r in (0, 1))
    assert_close(g0, g1, rtol=0, atol=0)
    reader = R.RunReader(out)
    assert reader.status["status"] == R.FINISHED and reader.record["ddp"] == {"world_size": 2, "backend": "gloo"}
    assert [r[R.STEP] for r in reader.metrics()] == [0, 3] and reader.snapshot_steps() == [0, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "run"]
    assert_close(final_g(out), g0)
    # rank 1 drew other batches: the averaged training differs from rank 0 training alone
    run(load_config("mnist", **TINY), tmp_path / "alone", quiet=True)
    with pytest.raises(AssertionError):
        assert_close(final_g(tmp_path / "alone"), g0)
