"""Run folders with known content for the analysis and picture tests, written through the Recorder (the
one writer of run folders) as a training loop would write them, rows and snapshots in step order."""
from __future__ import annotations

from pathlib import Path

from gandiag import record as R
from gandiag.record.recorder import Recorder


def write_folder(root: Path, config: dict, rows=(), snapshots: dict | None = None, mixture=None,
                 status: str = R.FINISHED, **record) -> Path:
    """config.json's config table `config` (and the target's modes when `mixture` is given), the metrics
    `rows`, the snapshot arrays {step: {key: array}}, and `status` at the last step."""
    snapshots = snapshots or {}
    by_step = {row[R.STEP]: row for row in rows}
    with Recorder(root, config=config, record={"modes": mixture.to_dict() if mixture is not None else None,
                                               **record}) as rec:
        for step in sorted(set(by_step) | set(snapshots)):
            if step in by_step:
                rec.log(step, **{k: v for k, v in by_step[step].items() if k != R.STEP})
            if step in snapshots:
                rec.snapshot(step, **snapshots[step])
        last = max([*by_step, *snapshots], default=0)
        rec.end(status, step=last)
    return Path(root)
