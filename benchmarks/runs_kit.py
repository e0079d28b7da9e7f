"""What the benchmark scripts share: train a batch of configs into run folders (reusing finished runs,
resuming interrupted ones, several processes at once) and summarise a run folder's coverage."""
from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gandiag import record as R
from gandiag.config import to_dict
from gandiag.metrics import oscillation

#: late-half verdicts (the later half of the metrics rows is what a run settled into)
SPREAD, HOPS, COLLAPSED, PARTIAL = "spread", "hops", "collapsed", "partial"


def ensure_run(cfg, out: Path) -> Path:
    """Train cfg into `out` unless it already holds that many steps; a run with a checkpoint (interrupted,
    or finished with fewer steps) is resumed up to cfg.steps."""
    from gandiag.train import resume, run
    out = Path(out)
    if (out / R.CONFIG_FILE).exists():
        reader, wanted = R.RunReader(out), to_dict(cfg)
        # keys added to Config after the run was made are not in its record; steps may grow by resuming,
        # and how often checkpoints are written changes neither training nor the metrics
        if any(value != wanted.get(key) for key, value in reader.config.items()
               if key not in ("steps", "checkpoint_every")):
            raise SystemExit(f"{out} holds a run of another configuration: delete it or choose another --root")
        status = reader.status
        if status.get("status") == R.FINISHED and status.get("step", 0) >= cfg.steps:
            return out
        if not list((out / R.CHECKPOINT_DIR).glob("*.pt")):
            shutil.rmtree(out)
        else:
            resume(out, cfg.steps, quiet=True)
            return out
    run(cfg, out, quiet=True)
    return out


def _ensure_one_thread(job):
    import torch
    torch.set_num_threads(1)  # several single-thread runs share the 2 cores better than threads fighting
    return ensure_run(*job)


def ensure_runs(jobs: list[tuple], processes: int) -> list[Path]:
    """ensure_run for every (cfg, out), `processes` at a time, each single-threaded."""
    if processes <= 1:
        return [_ensure_one_thread(job) for job in jobs]
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(_ensure_one_thread, jobs))


def summarise(out: Path) -> dict:
    """Final coverage (PacGAN's HQ counts on the eval samples) and where the fakes sat over the later half.

    held: modes holding at least a quarter of their fair share of the snapshot's fakes in their
    neighbourhood (so a G that has found a mode but is not yet within 3 std of it still counts);
    switches: how often the most-held mode changed between consecutive late snapshots. Verdict:
    spread = every mode held at the end; collapsed / hops = at most half the modes held on average
    late, with the most-held mode fixed / changing at least twice; partial = the rest.
    """
    reader = R.RunReader(out)
    final = [r for r in reader.metrics() if r.get(R.MODE_COUNTS) is not None][-1]
    n_modes = len(final[R.MODE_COUNTS])
    mixture = reader.mixture()
    late = [reader.snapshot(step)[R.SNAP_FAKES] for step in oscillation.late(reader.snapshot_steps()[1:])]
    masses, _ = oscillation.snapshot_masses(late, mixture.centres, mixture.stds)   # last column: near no mode
    held = (masses[:, :-1] >= 0.25 / n_modes).sum(axis=1)
    switches = int((np.diff(oscillation.dominant_modes(masses)) != 0).sum())
    if held[-1] == n_modes:
        verdict = SPREAD
    elif held.mean() <= n_modes / 2:
        verdict = HOPS if switches >= 2 else COLLAPSED
    else:
        verdict = PARTIAL
    return {"step": final[R.STEP], "modes": final[R.MODES], "modes_strict": final[R.MODES_STRICT],
            "n_modes": n_modes, "hq": final[R.HQ], "reverse_kl": final[R.REVERSE_KL],
            "held_final": int(held[-1]), "held_late_mean": float(held.mean()), "late_switches": switches,
            "verdict": verdict}
