"""What the benchmark scripts share: train a batch of configs into run folders (reusing finished runs,
resuming interrupted ones, several processes at once) and summarise a run folder's coverage."""
from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gandiag import record as R
from gandiag.metrics import oscillation

#: late-half verdicts (the later half of the metrics rows is what a run settled into)
SPREAD, HOPS, COLLAPSED, PARTIAL = "spread", "hops", "collapsed", "partial"


def ensure_run(cfg, out: Path) -> Path:
    """Train cfg into `out` unless it already holds that many steps; a run with a checkpoint (interrupted,
    or finished with fewer steps) is resumed up to cfg.steps."""
    from gandiag.train import resume, run
    out = Path(out)
    if (out / R.CONFIG_FILE).exists():
        status = R.RunReader(out).status
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
    """Final coverage and what the later half of the run did.

    switches: how often the dominant mode changed between consecutive late rows. Verdict: spread =
    every mode holds >= 1 % of the samples at the end; collapsed / hops = the late rows hold at most
    half the modes at once on average, with the dominant mode fixed / changing at least twice.
    """
    reader = R.RunReader(out)
    rows = [r for r in reader.metrics() if r.get(R.MODE_COUNTS) is not None]
    final, late = rows[-1], oscillation.late(rows[1:])
    n_modes = len(final[R.MODE_COUNTS])
    n_samples = reader.config["eval_samples"]
    counts = np.array([r[R.MODE_COUNTS] for r in late])
    held = (counts >= R.MIN_MODE_SHARE * n_samples).sum(axis=1).mean()
    switches = int((np.diff(oscillation.dominant_modes(counts)) != 0).sum())
    if final[R.MODES_STRICT] == n_modes:
        verdict = SPREAD
    elif held <= n_modes / 2:
        verdict = HOPS if switches >= 2 else COLLAPSED
    else:
        verdict = PARTIAL
    return {"step": final[R.STEP], "modes": final[R.MODES], "modes_strict": final[R.MODES_STRICT],
            "n_modes": n_modes, "hq": final[R.HQ], "reverse_kl": final[R.REVERSE_KL],
            "late_modes_held": float(held), "late_switches": switches, "verdict": verdict}
