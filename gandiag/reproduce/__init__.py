"""`gandiag reproduce PROTOCOL`: a paper's table in one command (docs/reproduce.md).

    OUT/cells/<scenario>/<method>/seed_<s>/   one run folder per cell (gandiag report works on any)
    OUT/table.md, table.csv, table.json      per scenario, method and metric: ours beside the published
    OUT/figure.png                           the same as a figure; OUT/strips/ where the protocol asks
    OUT/reproduction.json                    what was asked: protocol, profile, seeds, steps, overrides

Beside the analyzer: it reads run folders to make tables, and trains the cells it lacks through
gandiag.train's public run / resume (here, in worker processes, or as submitit jobs).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .. import record as R
from ..config import to_dict
from .cells import (BUSY, DONE, TODO, Cell, ConfigDiffers, Unit, cell_folder, seeds_per_pass, slurm_executor, state,
                    submit, train_local, units)
from .protocol import PROFILES, Protocol, ProtocolError, load_protocol, protocol_names
from .table import build_table, csv_text, final_row, markdown

LAUNCHERS = ("local", "slurm")
TABLE_MD, TABLE_CSV, TABLE_JSON, FIGURE, STRIPS, REQUEST = (
    "table.md", "table.csv", "table.json", "figure", "strips", "reproduction.json")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a reproduction; the message says what is kept and how to go on."""


@dataclass
class Reproduction:
    out: Path
    rows: list[dict]
    text: str             # table.md
    trained: int          # cells trained (or resumed) by this call
    reused: int           # cells that were done already
    files: list[Path]


def plan(protocol: Protocol, profile: str, seeds: int, steps: int, out: Path,
         overrides: dict | None = None) -> list[Cell]:
    """Every cell of the protocol: scenarios x methods x seeds 0 .. seeds - 1."""
    protocol.check_overrides(overrides)
    return [Cell(s.id, m.id, seed, to_dict(protocol.config(s, m, seed, steps, profile, overrides)),
                 cell_folder(out, s.id, m.id, seed))
            for s in protocol.scenarios for m in protocol.methods for seed in range(seeds)]


#: the submitit parameters by which a Slurm job asks for GPUs
GPU_PARAMETERS = ("gpus_per_node", "slurm_gpus_per_node", "slurm_gpus_per_task", "slurm_gres")


def _asks_for_gpu(key: str, value) -> bool:
    """Whether one submitit parameter asks a job's node for a GPU."""
    if key not in GPU_PARAMETERS:
        return False
    return "gpu" in str(value) if key == "slurm_gres" else str(value) not in ("0", "", "False", "None")


def default_profile(launcher: str = "local", slurm: dict | None = None) -> str:
    """paper where the cells train with CUDA, quick on a CPU: on this machine, or with launcher slurm on
    the nodes its jobs ask for (a GPU among their submitit parameters; the submitting machine, often a
    login node without one, says nothing of them)."""
    if launcher == "slurm":
        return "paper" if any(_asks_for_gpu(key, value) for key, value in (slurm or {}).items()) else "quick"
    import torch
    return "paper" if torch.cuda.is_available() else "quick"


def reproduce(name: str, profile: str | None = None, seeds: int | None = None, steps: int | None = None,
              out=None, jobs: int = 1, launcher: str = "local", overrides: dict | None = None,
              executor=None, slurm: dict | None = None, log=None, per_pass: int | None = None) -> Reproduction:
    """Train the protocol's missing cells and write its table. executor: a submitit executor for
    launcher = slurm (tests pass its local one); slurm: that executor's parameters otherwise. per_pass: the
    fresh seeds of a scenario and method trained together as one pass (None: seeds_per_pass)."""
    protocol = load_protocol(name)
    profile = profile or default_profile(launcher, slurm)
    if profile not in PROFILES or launcher not in LAUNCHERS:
        raise ProtocolError(f"profile {profile!r} / launcher {launcher!r}: expected one of {', '.join(PROFILES)} / "
                            f"{', '.join(LAUNCHERS)}")
    chosen = protocol.profiles[profile]
    seeds, steps = seeds or chosen.seeds, steps or chosen.steps
    if seeds < 1 or steps < 1 or jobs < 1 or (per_pass is not None and per_pass < 1):
        raise ProtocolError(f"--seeds {seeds}, --steps {steps}, --jobs {jobs}, --seeds-per-pass {per_pass}: each "
                            "must be at least 1")
    out = Path(out) if out is not None else \
        Path("runs/reproduce") / f"{protocol.name}-{profile}{'' if steps == chosen.steps else f'-steps{steps}'}"
    earlier = _check_out(out, protocol)
    cells = plan(protocol, profile, seeds, steps, out, overrides)
    try:   # a folder of another configuration fails before any training
        states = {c.name: state(c) for c in cells}
    except ConfigDiffers as e:
        raise R.RunError(_differs(e, earlier, overrides or {})) from None
    todo = [c for c in cells if states[c.name] not in (DONE, BUSY)]
    out.mkdir(parents=True, exist_ok=True)
    R.atomic_write_json(out / REQUEST, {"protocol": protocol.name, "profile": profile, "seeds": seeds, "steps": steps,
                                        "overrides": overrides or {}, "launcher": launcher,
                                        "cells": [str(c.folder) for c in cells]})
    say = log or (lambda text: None)
    say(f"{protocol.name}: {len(cells)} cells, {len(cells) - len(todo)} done or running elsewhere, {len(todo)} to train"
        f" ({profile} profile: {steps:,} steps, {_seeds(seeds)})")
    # per scenario and method, whose cells' configs differ in the seed only
    first = {(c.scenario, c.method): c for c in reversed(todo)}
    # as a job on a cluster, a scenario and method's fresh seeds go together and the node that runs them
    # sizes their passes (its CPUs or its GPU's memory, not this machine's)
    by_node = launcher == "slurm" and per_pass is None
    capacity = {key: seeds if by_node else per_pass or seeds_per_pass(cell, seeds, jobs) for key, cell in first.items()}
    work = units(todo, {c.name for c in todo if states[c.name] == TODO},
                 lambda cell: capacity[cell.scenario, cell.method])
    try:
        if todo:
            _train(work, len(todo), jobs, launcher, out, executor, slurm, say, by_node)
        now = {c.name: state(c) for c in cells}
        left = [name for name, s in now.items() if s != DONE]
        if left:
            # a cell another process trains has nothing to resume: the table waits for that process
            busy = sum(now[name] == BUSY for name in left)
            then = "to resume them" if not busy else \
                f"once the other process is done ({busy} of them it is training now)"
            raise R.RunError(f"{len(left)} of {len(cells)} cells are not done ({', '.join(left[:3])}"
                             f"{', ...' if len(left) > 3 else ''}): rerun the same command {then}")
        return write_outputs(protocol, profile, seeds, steps, out, cells, len(todo))
    except KeyboardInterrupt:
        done = sum(state(c) == DONE for c in cells)
        kept = (f"every cell's run folder is kept in {out / 'cells'}. Continue with the same command: it reuses the "
                "done cells and resumes the others from their last checkpoints"
                if launcher == "local" else
                "the submitted jobs go on: the same command, once they are done, collects them")
        raise Interrupted(f"interrupted: {done} of {len(cells)} cells done; {kept}") from None


def _check_out(out: Path, protocol: Protocol) -> dict | None:
    """Refuse an --out that holds something else, before anything is written: the table, its figure and
    reproduction.json would overwrite that of another protocol's reproduction (its cells live under other
    names, so no cell's config would differ), or land inside a run folder. The earlier reproduction's
    --set values where its reproduction.json says them, {} where there is none."""
    if (out / R.CONFIG_FILE).is_file():
        raise R.RunError(f"{out} is a run folder (it holds {R.CONFIG_FILE}), not a reproduction's: give another --out")
    if not (out / REQUEST).is_file():
        return {}
    try:
        request = json.loads((out / REQUEST).read_text(encoding="utf-8"))
        other, overrides = request.get("protocol"), request.get("overrides")
    except (ValueError, AttributeError):   # a damaged request (a killed write): a rerun writes it anew
        return None
    if other != protocol.name:
        raise R.RunError(f"{out} holds a reproduction of {other!r} ({REQUEST}), not of {protocol.name!r}: give "
                         "another --out, or delete the folder to reproduce anew")
    return overrides if isinstance(overrides, dict) else None


def _differs(e: ConfigDiffers, earlier: dict | None, overrides: dict) -> str:
    """The refusal of a cell folder of another config, saying where each value came from (the earlier
    reproduction's --set or the protocol; earlier None: not known) and how to reuse the cells."""
    head = f"{e.folder} holds a run of another configuration"
    if e.key == "steps":
        return (f"{head}: {e.there:,} steps there, --steps {e.wanted:,} now (a cell is not cut back): give --steps "
                f"{e.there} or more to reuse its cells, or another --out")
    then = "" if earlier is None else " (the earlier run's --set)" if e.key in earlier else " (the protocol's)"
    now = " (your --set)" if e.key in overrides else " (the protocol's)"
    if earlier is not None and e.key not in earlier and e.key not in overrides:
        how = "give another --out, or delete the folder to train it anew"
    elif earlier is not None and e.key not in earlier:
        how = f"drop --set {e.key} to reuse its cells, or give another --out for the new value"
    else:
        how = f"give --set {e.key}={_set_text(e.there)} to reuse its cells, or another --out for the new value"
    return f"{head}: {e.key} = {e.there!r} there{then}, {e.wanted!r} now{now}: {how}"


def _set_text(value) -> str:
    """A config value as --set reads it back (widths as on `gandiag run`: 64,64)."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _train(work: list[Unit], cells: int, jobs: int, launcher: str, out: Path, executor, slurm, say,
           by_node: bool) -> None:
    """Train the units here (--jobs workers) or as submitit jobs; by_node: a job's unit is a scenario and method's
    fresh seeds, in passes of the size its node takes (cells.train_group)."""
    t0, count = time.perf_counter(), [0]

    def done(cell: Cell, status: str) -> None:
        count[0] += 1
        say(f"  {cell.name}: {status} ({count[0]} of {cells}, {time.perf_counter() - t0:.0f} s)")

    if any(len(unit) > 1 for unit in work):
        say(f"  as {len(work)} {'jobs (in passes that their nodes size)' if by_node else 'passes'}: "
            f"{', '.join(f'{u[0].scenario}/{u[0].method} x {len(u)}' for u in work[:4])}"
            f"{', ...' if len(work) > 4 else ''}")
    if launcher == "local":
        train_local(work, jobs, done)
        return
    executor = executor or slurm_executor(out / "slurm", slurm or {})
    submitted = submit(work, executor, by_node)
    say(f"submitted {len(submitted)} jobs ({submitted[0].job_id} ...): waiting for them; if this command is "
        "stopped, the jobs go on and the same command collects them")
    for unit, job in zip(work, submitted):
        for cell, status in zip(unit, job.result()):
            done(cell, status)


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def title_of(protocol: Protocol, profile: str, seeds: int, steps: int, device: str) -> str:
    paper = protocol.profiles["paper"]
    head = f"{protocol.title}: {profile} profile, {steps:,} steps, {_seeds(seeds)}, on {device}"
    if profile == "quick" or (steps, seeds) != (paper.steps, paper.seeds):
        head += f" (the paper: {paper.steps:,} steps, {paper.seeds} seeds; not the published protocol)"
    return head


def write_outputs(protocol: Protocol, profile: str, seeds: int, steps: int, out: Path, cells: list[Cell],
                  trained: int) -> Reproduction:
    from .figure import strip_figures, table_figure
    rows = build_table(protocol, cells)
    readers = [R.RunReader(c.folder) for c in cells]
    statuses, records = [r.status for r in readers], [r.record for r in readers]
    devices = sorted({record.get("device", "?") for record in records})
    seconds = training_seconds(cells, statuses, records)
    # the step of the row each diverged cell counts: one that diverged early counts the untrained G
    diverged = [f"{c.name} at step {s.get('step', '?')}, counted at step {final_row(c.folder).get(R.STEP, '?')}"
                for c, s in zip(cells, statuses) if s["status"] == R.DIVERGED]
    # a cell with no evaluation row (its metrics.jsonl emptied or lost) is left out of its mean's n, which
    # may turn a comparison: the table says so rather than showing a smaller n without a word
    unmeasured = [c.name for c in cells if not final_row(c.folder)]
    title = title_of(protocol, profile, seeds, steps, "/".join(devices))
    samples = sorted({c.config["eval_samples"] for c in cells})
    notes = [f"Ours: each cell's last metrics row, on {'/'.join(f'{n:,}' for n in samples)} samples; cells in "
             f"{out / 'cells'}/<scenario>/<method>/seed_<s> (run folders: `gandiag report` works on any)."]
    if any(m.counted for m in protocol.metrics):
        notes.append("Outcomes from the analyzer's verdicts on each cell: " +
                     "; ".join(f"{k}: {v}" for k, v in R.OUTCOMES.items()) + ".")
    if diverged:
        notes.append(f"Diverged (each counted at its last finite row): {'; '.join(diverged)}.")
    if unmeasured:
        notes.append(f"Not measured, so left out of n (no evaluation row in the cell's {R.METRICS_FILE}): "
                     f"{'; '.join(unmeasured)}. Delete such a cell's folder and rerun to train it again.")
    if protocol.notes:
        notes.append(protocol.notes.strip())
    # only a run that finishes records its seconds: a diverged cell, or one whose status.json was written anew
    untimed = [c.name for c, s in zip(cells, statuses) if s.get("seconds") is None]
    notes.append(f"Training time summed over the cells: {seconds / 60:.1f} min (a resumed cell counts its last "
                 "session only, a pass of several cells once" +
                 (f"; {len(untimed)} cell{'s' if len(untimed) > 1 else ''} recorded no time and count none: "
                  f"{'; '.join(untimed)}" if untimed else "") + ").")
    text = markdown(protocol, rows, title, notes)
    (out / TABLE_MD).write_text(text, encoding="utf-8")
    (out / TABLE_CSV).write_text(csv_text(rows), encoding="utf-8")
    R.atomic_write_json(out / TABLE_JSON, {"title": title, "rows": rows})
    files = [out / TABLE_MD, out / TABLE_CSV, out / TABLE_JSON, *table_figure(protocol, rows, title, out / FIGURE)]
    if protocol.strip:
        files += strip_figures(protocol, cells, out / STRIPS)
    return Reproduction(out, rows, text, trained, len(cells) - trained, files)


def training_seconds(cells: list[Cell], statuses: list[dict], records: list[dict]) -> float:
    """The cells' training seconds (from their status.json) summed, a pass's once: each cell of a pass records
    the whole pass's time (its config.json record names the pass's seeds)."""
    sessions = {}
    for cell, status, record in zip(cells, statuses, records):
        together = record.get("pass", {}).get("seeds")
        key = (cell.scenario, cell.method, *together) if together else cell.name
        sessions[key] = max(sessions.get(key, 0), status.get("seconds") or 0)
    return sum(sessions.values())


def describe() -> list[tuple[str, str]]:
    """(name, one line) of every shipped protocol, for `gandiag reproduce --list`."""
    lines = []
    for name in protocol_names():
        p = load_protocol(name)
        q, paper = p.profiles["quick"], p.profiles["paper"]
        lines.append((name, f"{p.title} [quick: {q.steps:,} steps x {q.seeds} seeds; paper: {paper.steps:,} x "
                            f"{paper.seeds}; {len(p.scenarios) * len(p.methods)} cells per seed]"))
    return lines


__all__ = ["Interrupted", "Reproduction", "describe", "load_protocol", "plan", "protocol_names", "reproduce",
           "seeds_per_pass", "title_of", "training_seconds"]
