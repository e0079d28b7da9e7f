"""`gandiag reproduce`: every shipped protocol end to end on tiny players, reruns that train nothing, a
killed reproduction that resumes to the same table, submitit jobs, and the table against the run folders."""
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

import matplotlib
import pytest
import torch
from click.testing import CliRunner
from torch.testing import assert_close

import gandiag.machine
import gandiag.train
from gandiag import memory, record as R
from gandiag.config import from_dict
from gandiag.machine import cpu_share, usable_cpus
from gandiag.cli import main
from gandiag.metrics import classifier as classifier_metrics
from gandiag.reproduce import load_protocol, plan, protocol_names, reproduce, seeds_per_pass, table, training_seconds
from gandiag.reproduce.cells import slurm_executor, units
from gandiag.reproduce.figure import results_figure
from gandiag.reproduce.protocol import ProtocolError
from gandiag.viz import style
from tiny import CELL_IMAGE, CELL_TOY, toy_config

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"metz-fig1": 6, "pacgan-table1": 6, "veegan-table1-2d": 30, "unrolled-stacked-mnist": 2}
SEEDS = {"unrolled-stacked-mnist": 1}


def tiny(name: str, out: Path, **kw):
    return reproduce(name, "quick", SEEDS.get(name, 2), STEPS[name], out,
                     overrides=CELL_IMAGE if "mnist" in name else CELL_TOY, **kw)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """Each toy protocol reproduced once on tiny settings (the image one in its own test)."""
    made = {}

    def get(name: str):
        if name not in made:
            made[name] = tiny(name, tmp_path_factory.mktemp(name))
        return made[name]
    return get


def cell_folders(out: Path) -> list[Path]:
    return sorted(p.parent for p in (out / "cells").rglob(R.CONFIG_FILE))


@pytest.mark.parametrize("name", ["metz-fig1", "pacgan-table1", "veegan-table1-2d"])
def test_each_toy_protocol_runs_end_to_end_in_the_quick_profile(done, name):
    result, protocol = done(name), load_protocol(name)
    per_seed = len(protocol.scenarios) * len(protocol.methods)
    assert len(result.rows) == per_seed * len(protocol.metrics)
    assert result.trained == len(cell_folders(result.out)) == per_seed * 2
    assert {R.RunReader(f).status["status"] for f in cell_folders(result.out)} == {R.FINISHED}
    first = result.text.splitlines()[0]
    assert "quick profile" in first and "not the published protocol" in first
    assert (result.out / "figure.png").stat().st_size and (result.out / "table.csv").is_file()
    if protocol.strip:
        assert sorted(p.name for p in (result.out / "strips").iterdir()) == sorted(
            f"{s.id}-{m.id}.png" for s in protocol.scenarios for m in protocol.methods)


def test_the_stacked_mnist_protocol_runs_end_to_end(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("GANDIAG_CACHE", str(cache))
    # the Frechet distance (a second or two per evaluation on 2 cores) is not in this protocol's table
    monkeypatch.setattr(classifier_metrics, "frechet_distance", lambda a, b: 0.0)
    result = tiny("unrolled-stacked-mnist", tmp_path)
    assert result.trained == 8 and [r["n"] for r in result.rows] == [1] * 16
    assert all(0 <= r["mean"] <= 1000 for r in result.rows if r["metric"] == R.MODES)


def test_a_rerun_reuses_every_finished_cell(done, monkeypatch):
    first = done("pacgan-table1")
    stamps = {f: (f / R.METRICS_FILE).stat().st_mtime_ns for f in cell_folders(first.out)}

    def refuse(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")
    monkeypatch.setattr(gandiag.train, "run", refuse)
    monkeypatch.setattr(gandiag.train, "resume", refuse)
    again = tiny("pacgan-table1", first.out)
    assert (again.trained, again.reused, again.rows) == (0, len(stamps), first.rows)
    assert stamps == {f: (f / R.METRICS_FILE).stat().st_mtime_ns for f in cell_folders(first.out)}


def test_a_cell_killed_before_its_config_was_written_starts_afresh(done, tmp_path):
    first = done("pacgan-table1")
    out = tmp_path / "copy"
    shutil.copytree(first.out, out)
    cell = out / "cells" / "grid" / "pacgan4" / "seed_0"
    shutil.rmtree(cell)
    for name in (R.SNAPSHOT_DIR, R.CHECKPOINT_DIR):   # what the Recorder makes before config.json
        (cell / name).mkdir(parents=True)
    (cell / R.LOCK_FILE).touch()
    (cell / f".{R.CONFIG_FILE}.123.abc.tmp").write_text("{")   # the write of config.json, killed
    again = tiny("pacgan-table1", out)
    assert (again.trained, again.rows) == (1, first.rows)


def test_a_rerun_with_another_config_is_refused_in_one_line(done):
    out = done("pacgan-table1").out
    result = CliRunner().invoke(main, ["reproduce", "pacgan-table1", "--steps", "6", "--seeds", "2", "--out", str(out)])
    assert result.exit_code == 1 and "holds a run of another configuration" in result.output
    assert "Traceback" not in result.output


def tiny_flags(name: str, out: Path, seeds: int = 1, steps: int = 2) -> list[str]:
    """`gandiag reproduce NAME` on `seeds` seeds of `steps` steps of CELL_TOY's cells, into `out`."""
    sets = [f"--set={k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in CELL_TOY.items()]
    return ["reproduce", name, "--profile", "quick", "--seeds", str(seeds), "--steps", str(steps), *sets, "--out",
            str(out)]


@pytest.mark.parametrize("steps, change, words", [
    (6, ["--set", "g_hidden=32"], "g_hidden = [16] there (the earlier run's --set), [32] now (your --set): give --set "
                                  "g_hidden=16 to reuse its cells, or another --out for the new value"),
    (6, ["--set", "d_lr=0.01"], "d_lr = 0.0001 there (the protocol's), 0.01 now (your --set): drop --set d_lr to "
                                "reuse its cells, or give another --out for the new value"),
    (2, [], "6 steps there, --steps 2 now (a cell is not cut back): give --steps 6 or more to reuse its cells, or "
            "another --out")])
def test_a_changed_set_on_rerun_is_refused_saying_where_each_value_came_from(done, steps, change, words):
    """It said 'g_hidden = [16], the protocol's [32]': the 16 was the earlier run's --set, the 32 this one's."""
    out = done("pacgan-table1").out
    before = (out / "reproduction.json").read_bytes()
    result = CliRunner().invoke(main, [*tiny_flags("pacgan-table1", out, 2, steps), *change])
    assert result.exit_code == 1 and result.output.splitlines() == [
        f"Error: {out / 'cells' / 'ring' / 'gan' / 'seed_0'} holds a run of another configuration: {words}"]
    assert (out / "reproduction.json").read_bytes() == before


@pytest.mark.parametrize("key, value, words", [("steps", "3", "use --steps"), ("seed", "5", "use --seeds"),
                                               ("unrolled", "5", "the protocol's methods set it")])
def test_a_set_of_what_the_table_states_is_refused_before_anything_is_written(tmp_path, key, value, words):
    """--set came last and won silently: `--set steps=3` trained 3 steps under a title of 2, `--set seed=5`
    made every seed one run (a standard error of 0), `--set unrolled=5` made K = 0 and K = 10 one method."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*tiny_flags("metz-fig1", out), "--set", f"{key}={value}"])
    assert result.exit_code == 1 and f"--set {key} is refused" in result.output and words in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_a_reproduction_into_another_protocols_folder_is_refused_and_its_table_kept(done):
    out = done("metz-fig1").out
    before = {p: p.read_bytes() for p in out.iterdir() if p.is_file()}
    result = CliRunner().invoke(main, tiny_flags("veegan-table1-2d", out))
    assert result.exit_code == 1 and "holds a reproduction of 'metz-fig1'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not (out / "cells" / "ring").exists()


def test_a_reproduction_into_a_run_folder_is_refused_in_one_line(done, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(cell_folders(done("metz-fig1").out)[0], run)
    result = CliRunner().invoke(main, tiny_flags("metz-fig1", run))
    assert result.exit_code == 1 and "is a run folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (run / "cells").exists() and not (run / "reproduction.json").exists()


def test_a_cell_another_process_trains_is_left_alone_and_the_refusal_says_to_wait_for_it(done, tmp_path):
    """It said 'rerun the same command to resume them' of a cell that has nothing to resume: it is training."""
    out = tmp_path / "copy"
    shutil.copytree(done("pacgan-table1").out, out)
    cell = out / "cells" / "ring" / "gan" / "seed_0"
    status = json.loads((cell / R.STATUS_FILE).read_text())
    (cell / R.STATUS_FILE).write_text(json.dumps({**status, "status": R.RUNNING}))
    lock = R.FolderLock(cell).acquire()   # as the process training it holds it
    try:
        with pytest.raises(R.RunError, match=r"^1 of 16 cells are not done \(ring/gan/seed 0\): rerun the same "
                                             r"command once the other process is done \(1 of them it is training"):
            tiny("pacgan-table1", out)
    finally:
        lock.release()


def test_the_table_names_the_step_each_diverged_cell_is_counted_at(tmp_path):
    """A cell that diverged at step 2 counts its step-0 row, the untrained G's; the note only named the cells."""
    result = reproduce("metz-fig1", "quick", 1, 6, tmp_path, overrides={**CELL_TOY, "d_lr": 1e9, "g_lr": 1e9})
    diverged = [f for f in cell_folders(tmp_path) if R.RunReader(f).status["status"] == R.DIVERGED]
    assert diverged
    for folder in diverged:
        scenario, method, seed = folder.relative_to(tmp_path / "cells").parts
        counted = [r for r in R.RunReader(folder).metrics() if r.get(R.MODE_COUNTS) is not None][-1][R.STEP]
        assert (f"{scenario}/{method}/seed {seed.split('_')[1]} at step {R.RunReader(folder).status['step']}, "
                f"counted at step {counted}") in result.text
    # the table's training time leaves them out, and says so: only a finished run records its seconds
    untimed = "; ".join(f"{'/'.join(f.relative_to(tmp_path / 'cells').parts[:2])}/seed {f.name.split('_')[1]}"
                        for f in cell_folders(tmp_path) if R.RunReader(f).status.get("seconds") is None)
    assert f"recorded no time and count none: {untimed})." in result.text


def start_tiny(name: str, out: Path, steps: int, jobs: int, output=subprocess.DEVNULL) -> subprocess.Popen:
    """`gandiag reproduce NAME` of tiny cells in a process group of its own (the command and its workers)."""
    sets = [f"--set={k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in CELL_TOY.items()]
    cmd = [sys.executable, "-m", "gandiag", "reproduce", name, "--profile", "quick", "--seeds", "2",
           "--steps", str(steps), "--out", str(out), "--jobs", str(jobs), *sets]
    return subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=output, stderr=output, text=True)


def test_a_cell_whose_metrics_were_lost_is_named_in_the_table_not_silently_left_out(done, tmp_path):
    """A finished cell with an emptied metrics.jsonl counted as done and only its mean's n shrank, which
    could turn the table's ordering without a word."""
    out = shutil.copytree(done("pacgan-table1").out, tmp_path / "copy")
    lost = cell_folders(out)[0]
    (lost / R.METRICS_FILE).write_text("")
    scenario, method, seed = lost.relative_to(out / "cells").parts
    again = tiny("pacgan-table1", out)
    assert again.trained == 0
    assert (f"Not measured, so left out of n (no evaluation row in the cell's {R.METRICS_FILE}): "
            f"{scenario}/{method}/seed {seed.split('_')[1]}. Delete such a cell's folder") in again.text


@pytest.mark.parametrize("damage", ["emptied", "truncated", "interrupted", "killed"])
def test_a_cell_at_its_steps_whose_status_json_says_otherwise_counts_as_done_by_its_checkpoint_and_metrics(
        done, tmp_path, damage):
    """An emptied or truncated status.json (a write killed mid-way, a full disk) read as unfinished, and the
    rerun stopped at its resume: 'is already at step 6: pass --steps larger than that', no advice for a table;
    a cell stopped by a Ctrl-C (or a kill) after its last step stopped it with 'had trained all its 6 steps when
    it was interrupted: ... pass a larger --steps to train on'."""
    first = done("pacgan-table1")
    out = shutil.copytree(first.out, tmp_path / "copy")
    cell = cell_folders(out)[0]
    text = (cell / R.STATUS_FILE).read_text()
    (cell / R.STATUS_FILE).write_text({"emptied": "", "truncated": text[:12],
                                       "interrupted": json.dumps({"status": R.INTERRUPTED, "step": 6}),
                                       "killed": json.dumps({"status": R.RUNNING, "step": 6})}[damage])
    again = tiny("pacgan-table1", out)
    assert (again.trained, again.rows) == (0, first.rows)
    assert R.RunReader(cell).status["status"] == R.FINISHED
    scenario, method, seed = cell.relative_to(out / "cells").parts
    assert f"1 cell recorded no time and count none: {scenario}/{method}/seed {seed.split('_')[1]})." in again.text


def test_a_damaged_status_json_whose_metrics_fall_short_of_the_checkpoint_is_named_in_one_line(done, tmp_path):
    out = shutil.copytree(done("pacgan-table1").out, tmp_path / "copy")
    cell = cell_folders(out)[0]
    (cell / R.STATUS_FILE).write_text("")
    lines = (cell / R.METRICS_FILE).read_text().splitlines(keepends=True)
    (cell / R.METRICS_FILE).write_text("".join(lines[:-1]))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, tiny_flags("pacgan-table1", out, 2, STEPS["pacgan-table1"]))
    assert result.exit_code == 1 and result.output.splitlines() == [
        f"Error: {cell / R.STATUS_FILE} is unreadable and the cell's {R.METRICS_FILE} ends short of its checkpoint "
        f"at step 6: delete the folder {cell} and rerun to train the cell again"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_killed_reproduction_resumes_and_ends_with_the_same_table(done, tmp_path):
    name, out = "veegan-table1-2d", tmp_path / "killed"
    proc = start_tiny(name, out, STEPS[name], jobs=2)
    status = lambda f: json.loads((f / R.STATUS_FILE).read_text())["status"] if (f / R.STATUS_FILE).is_file() else None  # noqa: E731
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        folders = cell_folders(out)
        if any(status(f) == R.FINISHED for f in folders):
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)   # the command and its worker processes, mid-way
    proc.wait()
    while True:   # the workers die a moment after the command: until then they hold their cells
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    folders = cell_folders(out)
    finished = [f for f in folders if R.RunReader(f).status["status"] == R.FINISHED]
    assert 0 < len(finished) < 8, "the kill should land between the first finished cell and the last"
    resumed = tiny(name, out)
    assert resumed.trained == 8 - len(finished)
    assert resumed.rows == done(name).rows


def live_processes_of_group(group: int) -> list[int]:
    """The processes of a process group that still run (a zombie waits only for its parent to reap it)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:   # it ended while we looked
            continue
        if int(pgrp) == group and state != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.parametrize("jobs, to, sig", [(2, "group", signal.SIGINT), (2, "command", signal.SIGINT),
                                           (2, "command", signal.SIGTERM), (1, "group", signal.SIGINT)],
                         ids=["jobs 2, Ctrl-C", "jobs 2, SIGINT to the command alone",
                              "jobs 2, SIGTERM to the command alone (a scheduler's stop)", "jobs 1, Ctrl-C"])
def test_ctrl_c_stops_every_cell_at_a_checkpoint_and_says_in_one_line_how_to_go_on(tmp_path, jobs, to, sig):
    out = tmp_path / "out"
    in_flight = jobs * min(2, cpu_share(jobs))   # each worker's pass: as many of the 2 seeds as its seed threads
    proc = start_tiny("veegan-table1-2d", out, 1_000_000, jobs, output=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len({c.parents[1] for c in out.glob(f"cells/*/*/*/{R.CHECKPOINT_DIR}/*.pt")}) < in_flight:
            assert time.monotonic() < deadline and proc.poll() is None, "the cells did not start training"
            time.sleep(0.05)
        # Ctrl-C in a terminal signals the whole process group; a supervisor may signal the command alone
        os.killpg(proc.pid, sig) if to == "group" else proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == gandiag.train.EXIT_INTERRUPTED
    assert "Traceback" not in stdout + stderr
    assert stderr.splitlines() == [
        f"interrupted: 0 of 8 cells done; every cell's run folder is kept in {out / 'cells'}. Continue with the same "
        "command: it reuses the done cells and resumes the others from their last checkpoints"]
    folders = cell_folders(out)   # the cells in flight, and no cell started after the Ctrl-C
    assert len(folders) == in_flight and {R.RunReader(f).status["status"] for f in folders} == {R.INTERRUPTED}
    deadline = time.monotonic() + 10   # a worker that outlived the command would train on, unwatched
    while live_processes_of_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not live_processes_of_group(proc.pid)


def test_submitit_jobs_train_the_missing_cells_and_the_same_command_collects_the_table(done, tmp_path):
    submitit = pytest.importorskip("submitit")
    first = done("veegan-table1-2d")
    out = tmp_path / "slurm"
    shutil.copytree(first.out, out)
    shutil.rmtree(out / "cells" / "grid" / "unrolled5" / "seed_1")
    result = tiny("veegan-table1-2d", out, launcher="slurm", executor=submitit.LocalExecutor(tmp_path / "jobs"))
    assert (result.trained, result.rows) == (1, first.rows)


def test_on_a_cluster_the_node_that_runs_a_job_sizes_its_passes_not_the_submitting_machine(tmp_path, monkeypatch):
    """Without --seeds-per-pass a job is a scenario and method's fresh seeds, and the job splits them into
    passes by the CPUs of the machine it runs on: here a login node of 1 CPU submits to nodes of 2."""
    cpus = {"now": 1}
    monkeypatch.setattr(gandiag.machine, "usable_cpus", lambda: cpus["now"])
    passes, train_pass = [], gandiag.train.run_pass
    monkeypatch.setattr(gandiag.train, "run_pass", lambda cfgs, *a, **kw: passes.append(len(cfgs)) or
                        train_pass(cfgs, *a, **kw))

    class Node:
        """submitit's executor as reproduce calls it: each job runs here at once, on a node of 2 CPUs."""
        jobs = []

        @contextlib.contextmanager
        def batch(self):
            yield

        def submit(self, train, unit):
            self.jobs.append(len(unit))
            cpus["now"] = 2
            try:
                statuses = train(unit)
            finally:
                cpus["now"] = 1
            return types.SimpleNamespace(job_id="1", result=lambda: statuses)

    result = reproduce("pacgan-table1", "quick", 3, STEPS["pacgan-table1"], tmp_path, launcher="slurm",
                       executor=Node(), overrides=CELL_TOY)
    assert (Node.jobs, passes, result.trained) == ([3] * 8, [2] * 8, 24)   # each job: a pass of 2, then one alone
    assert {R.RunReader(f).status["status"] for f in cell_folders(tmp_path)} == {R.FINISHED}


def test_on_a_cluster_the_default_profile_follows_the_gpus_the_jobs_ask_for_not_this_machine(monkeypatch):
    from gandiag.reproduce import default_profile
    for cuda_here in (True, False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_here)
        assert default_profile() == ("paper" if cuda_here else "quick")
        assert [default_profile("slurm", asked) for asked in (
            {"gpus_per_node": 1}, {"slurm_gres": "gpu:a100:2"}, {"slurm_gpus_per_task": 1},
            {}, {"gpus_per_node": 0}, {"slurm_partition": "gpu", "cpus_per_task": 16}, None)] == \
            ["paper"] * 3 + ["quick"] * 4


def last_row(folder: Path) -> dict:
    rows = [json.loads(line) for line in (folder / R.METRICS_FILE).read_text().splitlines()]
    return [r for r in rows if r.get("mode_counts") is not None][-1]


@pytest.mark.parametrize("name", ["pacgan-table1", "metz-fig1"])
def test_the_table_is_a_direct_computation_from_the_cells_run_folders(done, name):
    result, protocol = done(name), load_protocol(name)
    scale = {m.key: m.scale for m in protocol.metrics}
    for row in result.rows:
        folders = sorted((result.out / "cells" / row["scenario"] / row["method"]).iterdir())
        if row["metric"] in R.OUTCOMES:   # the analyzer's verdicts, as diagnosis.json holds them
            verdicts = [{v["rule"] for v in json.loads((f / R.DIAGNOSIS_FILE).read_text())["verdicts"]}
                        for f in folders]
            hops = ["mode_hopping" in v for v in verdicts]
            collapsed = [not h and "mode_collapse" in v for h, v in zip(hops, verdicts)]
            spread = [not h and not c and last_row(f)["modes_strict"] == len(last_row(f)["mode_counts"])
                      for h, c, f in zip(hops, collapsed, folders)]
            expected = {"hops": hops, "collapsed": collapsed, "spread": spread,
                        "partial": [not (h or c or s) for h, c, s in zip(hops, collapsed, spread)]}[row["metric"]]
            assert_close(row["mean"], sum(expected) / len(folders))
            continue
        values = [scale[row["metric"]] * last_row(f)[row["metric"]] for f in folders]
        assert_close(row["mean"], statistics.fmean(values))
        assert_close(row["error"], statistics.stdev(values) / math.sqrt(len(values)))   # both papers: s.e.
    base = {(r["scenario"], r["metric"]): r["mean"] for r in result.rows if r["method"] == protocol.methods[0].id}
    for row in result.rows:
        if row["ordering"].startswith(">") and row["method"] != protocol.methods[0].id and name == "pacgan-table1":
            assert row["holds"] == (row["mean"] > base[row["scenario"], row["metric"]])
        if row["ordering"].startswith("<") and name == "pacgan-table1":
            assert row["holds"] == (row["mean"] < base[row["scenario"], row["metric"]])


def test_methods_of_equal_means_are_a_tie_in_the_ordering_column_not_a_no(monkeypatch, tmp_path):
    """Two methods both at 0.0 ± 0.0 (both collapsed) read '> GAN: no', as if our seeds reversed the order."""
    protocol = load_protocol("veegan-table1-2d")
    cells = plan(protocol, "quick", 2, 30, tmp_path)
    # a method's two seeds 1 and 3 against the other's 2 and 2: equal means, one with an error
    value = {0: 1.0, 1: 3.0}
    monkeypatch.setattr(table, "cell_values", lambda protocol, cell: {
        m.key: 2.0 if cell.method == protocol.methods[0].id else value[cell.seed] for m in protocol.metrics})
    rows = [r for r in table.build_table(protocol, cells) if r["ordering"]]
    assert rows and {(r["ordering"][2:], r["holds"]) for r in rows} == {("GAN: tie", False)}


@pytest.mark.parametrize("name", protocol_names())
def test_the_table_figure_keeps_its_titles_inside_and_counts_seeds_from_none_to_all(monkeypatch, tmp_path, name):
    """metz-fig1's figure cut its panel title 'ring8 (Unrolled GAN setting): modes (of 8, >= 1 HQ sample)' at the
    PNG's right edge, and drew '0 of 2' seeds as no bar on an axis of -0.04 to 0.04."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    protocol = load_protocol(name)
    monkeypatch.setattr(table, "cell_values", lambda protocol, cell: {m.key: 0.0 for m in protocol.metrics})
    fig = results_figure(protocol, table.build_table(protocol, plan(protocol, "quick", 2, 30, tmp_path)), "title")
    with matplotlib.rc_context(style.RC):   # the rc settings the figure is saved under
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for ax in panels:
        box = ax.title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, ax.title.get_text()
    labels = [f"{s.label}: {m.label}" for s in protocol.scenarios for m in protocol.metrics]
    counted = [m.counted for s in protocol.scenarios for m in protocol.metrics]
    assert [ax.title.get_text().replace("\n", " ") for ax in panels] == labels
    assert [ax.get_ylim() for ax, c in zip(panels, counted) if c] == [(0.0, 2.0)] * sum(counted)


def test_every_cell_folder_is_an_ordinary_run_folder_for_report(done, tmp_path):
    folder = cell_folders(done("metz-fig1").out)[0]
    result = CliRunner().invoke(main, ["report", str(folder), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("runs, labels", [
    (["veegan-table1-2d/ring/gan", "veegan-table1-2d/grid/gan"],
     ["data=ring, modes=8, std=0.01", "data=grid, modes=25, std=0.05"]),
    (["veegan-table1-2d/ring/gan", "veegan-table1-2d/grid/gan", "metz-fig1/ring8/k0-minimax"],
     ["ring8-veegan, vanilla, data=ring, modes=8, std=0.01", "ring8-veegan, vanilla, data=grid, modes=25, std=0.05",
      "ring8, minimax loss, data=ring, modes=8, std=0.02"])])
def test_compare_of_a_reproductions_ring_and_grid_cells_labels_them_by_their_targets(done, tmp_path, runs, labels):
    """veegan-table1-2d's grid is its ring's preset with data = "grid": compare of the two cells said 'two runs
    would be labelled 'seed_0': nothing tells them apart (settings nor folder names)', though their data differ;
    beside a metz-fig1 cell, the grid was labelled 'ring8-veegan, vanilla, checkpoint_every=2, d_act=tanh, ...'."""
    folders = [done(name).out / "cells" / cell / "seed_0" for name, cell in (run.split("/", 1) for run in runs)]
    out = tmp_path / "compare"
    result = CliRunner().invoke(main, ["compare", *map(str, folders), "--out", str(out), "--max-frames", "2",
                                       "--size", "320x180", "--dpi", "40"])
    assert result.exit_code == 0, result.output
    rows = [line.split(" | ")[1] for line in (out / "compare.md").read_text().splitlines()[2:]]
    assert rows[:len(labels)] == labels


def test_compare_of_runs_of_different_lengths_tables_where_the_shorter_one_ended(tmp_path):
    """compare.md spread its steps over the longer run (0, 2, 6, 8, 12, ... of 30) and showed the 10-step run
    at step 0 only: its final values were in no row."""
    from gandiag.viz.compare import compare_runs
    short, long = tmp_path / "short", tmp_path / "long"
    gandiag.train.run(toy_config(steps=10, log_every=2), short, quiet=True)
    gandiag.train.run(toy_config(steps=30, log_every=2), long, quiet=True)
    compare_runs([short, long], tmp_path / "compare", max_frames=2, size=(320, 180), dpi=40)
    rows = [line.split(" | ") for line in (tmp_path / "compare" / "compare.md").read_text().splitlines()[2:]]
    last = R.RunReader(short).metrics()[-1]
    assert [r[2] for r in rows if r[0] == "| 10" and r[1] == "steps=10"] == [str(last[R.MODES])]


def test_list_names_every_shipped_protocol():
    result = CliRunner().invoke(main, ["reproduce", "--list"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == protocol_names()
    assert {"metz-fig1", "pacgan-table1", "veegan-table1-2d", "unrolled-stacked-mnist"} <= set(protocol_names())


def test_a_broken_protocol_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    text = (ROOT / "gandiag/protocols/veegan-table1-2d.toml").read_text()
    bad.write_text(text.replace('flags = { unrolled = 5 }', 'flags = { unrolled_by = 5 }'))
    with pytest.raises(ProtocolError, match="unrolled_by"):
        load_protocol(str(bad))
    result = CliRunner().invoke(main, ["reproduce", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_the_paper_profile_plans_the_published_steps_and_seeds(tmp_path):
    protocol = load_protocol("pacgan-table1")
    quick, paper = (plan(protocol, p, protocol.profiles[p].seeds, protocol.profiles[p].steps, tmp_path)
                    for p in ("quick", "paper"))
    assert {c.config["steps"] for c in paper} == {400_000}
    assert len(paper) == len(protocol.scenarios) * len(protocol.methods) * 10 and len({c.seed for c in paper}) == 10
    assert {c.config["steps"] for c in quick} == {protocol.profiles["quick"].steps} != {400_000}


def test_slurm_parameters_reach_the_submitit_executor(tmp_path, monkeypatch):
    import submitit

    class Recording:
        def __init__(self, folder, cluster):
            self.cluster, self.parameters = cluster, {}

        def update_parameters(self, **parameters):
            self.parameters.update(parameters)
    monkeypatch.setattr(submitit, "AutoExecutor", Recording)
    executor = slurm_executor(tmp_path, {"timeout_min": 600, "slurm_partition": "gpu"})
    assert (executor.cluster, executor.parameters) == ("slurm", {"timeout_min": 600, "slurm_partition": "gpu"})


def test_slurm_without_a_cluster_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # no srun anywhere
    with pytest.raises(R.RunError, match="^--launcher slurm: .*srun.*use --launcher local"):
        slurm_executor(tmp_path, {})


def test_fresh_seeds_trained_as_one_pass_give_the_cells_and_the_table_they_give_alone(tmp_path):
    alone = tiny("pacgan-table1", tmp_path / "alone", per_pass=1)
    stacked = tiny("pacgan-table1", tmp_path / "stacked", per_pass=2)
    assert stacked.rows == alone.rows and stacked.trained == alone.trained
    folders = cell_folders(stacked.out)
    assert [f.relative_to(stacked.out) for f in folders] == [f.relative_to(alone.out) for f in cell_folders(alone.out)]
    for folder in folders:
        reference = alone.out / folder.relative_to(stacked.out)
        assert (folder / R.METRICS_FILE).read_text() == (reference / R.METRICS_FILE).read_text()
        assert R.RunReader(folder).record["pass"] == {"seeds": [0, 1]}
        assert "pass" not in R.RunReader(reference).record
    # each cell of a pass records the pass's time: the table counts it once
    cells = plan(load_protocol("pacgan-table1"), "quick", 2, STEPS["pacgan-table1"], stacked.out, CELL_TOY)
    statuses = [R.RunReader(c.folder).status for c in cells]
    passes = sum(s["seconds"] for c, s in zip(cells, statuses) if c.seed == 0)
    assert training_seconds(cells, statuses, [R.RunReader(c.folder).record for c in cells]) == pytest.approx(passes)
    assert passes < sum(s["seconds"] for s in statuses)


def test_jobs_share_the_cpus_among_their_passes_seed_threads(done, tmp_path):
    shared = tiny("pacgan-table1", tmp_path / "jobs", per_pass=2, jobs=2)
    assert {R.RunReader(f).config["seed_workers"] for f in cell_folders(shared.out)} == {max(1, usable_cpus() // 2)}
    assert {R.RunReader(f).config["seed_workers"] for f in cell_folders(done("pacgan-table1").out)} == {0}   # auto
    assert shared.rows == done("pacgan-table1").rows


def test_cells_to_train_go_as_passes_of_fresh_seeds_of_one_scenario_and_method(tmp_path):
    cells = plan(load_protocol("pacgan-table1"), "quick", 5, 6, tmp_path, CELL_TOY)
    fresh = {c.name for c in cells if c.seed != 1}   # seed 1 of every cell is to be resumed
    work = units(cells, fresh, lambda cell: 3)
    assert sorted(c.name for unit in work for c in unit) == sorted(c.name for c in cells)
    assert all(len({(c.scenario, c.method) for c in unit}) == 1 for unit in work)
    assert [[c.seed for c in unit] for unit in work][:3] == [[0, 2, 3], [1], [4]]
    assert units(cells, fresh, lambda cell: 1) == [(c,) for c in cells]


def test_on_a_cpu_a_pass_holds_a_seed_per_seed_thread_and_on_a_gpu_as_many_as_its_memory_holds(tmp_path,
                                                                                               monkeypatch):
    cell = plan(load_protocol("pacgan-table1"), "quick", 10, 6, tmp_path, CELL_TOY)[0]
    monkeypatch.setattr(gandiag.machine, "usable_cpus", lambda: 4)
    # a toy run's one intra-op thread: a seed thread per CPU of the worker's share, at most one per seed
    assert [seeds_per_pass(cell, 10, jobs) for jobs in (1, 2, 3, 8)] == [4, 2, 1, 1]
    assert seeds_per_pass(cell, 3) == 3
    assert seeds_per_pass(replace(cell, config={**cell.config, "threads": 2}), 10) == 2
    assert seeds_per_pass(replace(cell, config={**cell.config, "seed_workers": 3}), 10) == 3
    monkeypatch.setattr(gandiag.train, "resolve_device", lambda name: torch.device("cuda"))
    four = sum(size for what, (size, _) in memory.parts(from_dict(cell.config), 4).items() if what != memory.ON_HOST)
    monkeypatch.setattr(memory, "device_free", lambda device: four)   # room for exactly 4 seeds' arrays
    assert seeds_per_pass(cell, 10) == 4


def test_the_seeds_per_pass_option_reaches_the_reproduction(tmp_path, monkeypatch):
    import gandiag.reproduce as reproduction
    asked = []

    def stopped(*args, per_pass, **kwargs):   # the command's arguments, and no training
        asked.append(per_pass)
        raise reproduction.Interrupted("stopped here")

    monkeypatch.setattr(reproduction, "reproduce", stopped)
    for flags in (["--seeds-per-pass", "4"], []):
        CliRunner().invoke(main, ["reproduce", "pacgan-table1", "--out", str(tmp_path), *flags])
    assert asked == [4, None]   # None: reproduce's own choice (seeds_per_pass)


def test_a_one_seed_reproduction_s_title_says_one_seed():
    from gandiag.reproduce import title_of
    assert ": quick profile, 20 steps, 1 seed, on cpu (the paper: " in title_of(load_protocol("metz-fig1"), "quick",
                                                                               1, 20, "cpu")
