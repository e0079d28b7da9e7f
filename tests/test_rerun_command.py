"""The report's "made by" command, as a researcher uses it: copied from the report of someone's run folder
and run elsewhere, it makes the same run (a byte-identical metrics.jsonl, the same config), and over
many configs it parses back through the CLI's own parsing to exactly the config it came from."""
import html
import json
import os
import re
import shlex
import typing
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, reject, strategies as st

import gandiag
from gandiag import config as C, record as R
from gandiag.cli import main, overrides
from gandiag.viz.describe import command_line, settings_table
from gandiag.viz.report import write_report

from tiny import QUIET, RUN, flags

TINY = {**RUN, "steps": 20, "checkpoint_every": 20}


def made_by(run: Path) -> tuple[str, tuple[str, str] | None]:
    """The command and the scenario file (name, text) that the run's report shows."""
    page = write_report(run).read_text()
    found = re.search(r"made by <code>(.*?)</code>(?:, with (.*?) holding<pre>(.*?)</pre>)?", page, re.S)
    scenario_file = (html.unescape(found[2]), html.unescape(found[3])) if found[2] else None
    return html.unescape(found[1]), scenario_file


def rerun(run: Path, where: Path, monkeypatch) -> Path:
    """The report's command run in the folder `where`, with its scenario file saved there as shown."""
    command, scenario_file = made_by(run)
    where.mkdir(parents=True)
    if scenario_file:
        (where / scenario_file[0]).write_text(scenario_file[1], encoding="utf-8")
    monkeypatch.chdir(where)
    result = CliRunner().invoke(main, [*shlex.split(command)[1:], "--out", "again", *QUIET])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    return where / "again"


def config_of(run: Path) -> dict:
    return json.loads((run / R.CONFIG_FILE).read_text())["config"]


def assert_remade(run: Path, again: Path, paths=()) -> None:
    """The same metrics to the byte and the same config, the settings `paths` (files) named as absolute
    paths to the same files."""
    assert (again / R.METRICS_FILE).read_bytes() == (run / R.METRICS_FILE).read_bytes()
    was, now = config_of(run), config_of(again)
    for key in paths:
        assert Path(now.pop(key).partition(":")[0]).is_absolute(), key
        was.pop(key)
    assert now == was


def test_the_command_of_a_run_made_in_python_makes_the_same_run(tmp_path, monkeypatch):
    """A run of gandiag.run(make_config(...)) has no scenario file: its report said `gandiag run custom.toml
    ...`, naming a file that never existed."""
    run = gandiag.run(gandiag.make_config({**TINY, "d_lr": 1 / 3 * 1e-3, "g_lr": 3e-4}), tmp_path / "mine").path
    assert_remade(run, rerun(run, tmp_path / "elsewhere", monkeypatch))


def test_the_command_of_a_users_scenario_file_in_another_folder_makes_the_same_run(tmp_path, monkeypatch):
    """`gandiag run ../exp/my.toml` was reported as `gandiag run my.toml ...`: found only beside the file,
    and another file where the TOML names its scenario itself (and a mixture's centres had no flag)."""
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "my.toml").write_text(
        'scenario = "two blobs"\ndescription = "two \\"blobs\\", é"\ndata = "mixture"\n'
        "centres = [[-1.5, 0.0], [1.0, 0.3333333333333333]]\nstds = [0.1, 0.05]\nweights = [1, 3]\n")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert CliRunner().invoke(main, ["run", "../exp/my.toml", "--out", "run", *flags(TINY, *QUIET)]).exit_code == 0
    run = tmp_path / "work" / "run"
    assert_remade(run, rerun(run, tmp_path / "a" / "b", monkeypatch))


def test_the_command_of_a_run_on_relative_files_makes_the_same_run_from_another_folder(tmp_path, monkeypatch):
    """--data-file and --g-loss/--d-loss relative to where the run started were reported as given, so the
    command failed from any other folder."""
    exp = tmp_path / "exp"
    exp.mkdir()
    np.savetxt(exp / "pts.csv", np.random.default_rng(0).normal(size=(300, 2)), delimiter=",")
    (exp / "losses.py").write_text(Path(__file__).parents[1].joinpath("examples", "my_loss.py").read_text())
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(main, ["run", "ring8", "--out", "run", "--data-file", "../exp/pts.csv",
                                       "--g-loss", "../exp/losses.py:g_loss_clamped",
                                       "--d-loss", "../exp/losses.py:d_loss", *flags(TINY, *QUIET)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "work" / "run"
    assert_remade(run, rerun(run, tmp_path / "a" / "b", monkeypatch), paths=("data_file", "g_loss", "d_loss"))


# --- the command parses back to the same config, over many configs ----------------------------------

def _values(name: str):
    """Values a field takes: its choices, or numbers within its bounds (1/3 and 3e-4 among them)."""
    meta, kind = C.FIELDS[name].metadata, typing.get_type_hints(C.Config)[name]
    if meta["choices"]:
        return st.sampled_from(meta["choices"])
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(meta["lo"] or 0, min(meta["hi"], 10**9))
    if kind is float:
        lo, hi = meta["lo"] or 0.0, min(meta["hi"], 1e6)
        drawn = st.floats(lo, hi, exclude_min=meta["lo_open"], exclude_max=meta["hi_open"])
        return st.one_of(st.sampled_from([v for v in (1 / 3, 3e-4, 1e-8, 0.1) if lo < v < hi]), drawn)
    if kind is tuple:
        return st.lists(st.integers(1, 2**31 - 1), min_size=1, max_size=3).map(tuple)
    return st.text(min_size=1, max_size=12)   # paths and loss specs, quoted on the command line


def _mixture():
    n = st.shared(st.integers(1, 3), key="modes")
    centre = st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
    return n.flatmap(lambda k: st.fixed_dictionaries({
        "centres": st.lists(centre, min_size=k, max_size=k),
        "stds": st.lists(st.floats(1e-3, 10), min_size=k, max_size=k),
        "weights": st.one_of(st.just([]), st.lists(st.floats(1e-3, 1e3), min_size=k, max_size=k))}))


@st.composite
def configs(draw):
    """(scenario values, settings): a shipped toy scenario, a user's file (a name and a description of any
    text) or none (a Config made in Python), and a few settings drawn from every field with a flag."""
    where = draw(st.sampled_from(["ring8", "grid25", "ring8-pacgan", "ring8-veegan", "file", "python"]))
    values = C.read_scenario(where) if where in C.scenario_names() else {}
    if where == "file":
        values = {"scenario": draw(st.text(min_size=1, max_size=12)), "description": draw(st.text(max_size=20))}
    flagged = [name for name, f in C.FIELDS.items() if f.metadata["cli"]]
    settings = {name: draw(_values(name)) for name in draw(st.lists(st.sampled_from(flagged), max_size=5, unique=True))}
    if draw(st.booleans()):
        settings.update(data="mixture", **draw(_mixture()))
    return values, settings


@given(configs())
def test_the_command_parses_back_to_exactly_the_same_config(tmp_path_factory, drawn):
    values, settings = drawn
    try:
        cfg = C.make_config(values, **settings)
    except C.ConfigError:
        reject()
    command, scenario_file = command_line(C.to_dict(cfg))
    args = shlex.split(command)
    assert args[:2] == ["gandiag", "run"]
    here, folder = os.getcwd(), tmp_path_factory.mktemp("rerun")
    if scenario_file:
        (folder / scenario_file[0]).write_text(scenario_file[1], encoding="utf-8")
    os.chdir(folder)   # the file is read where the command runs
    try:
        params = dict(main.commands["run"].make_context("run", args[2:]).params)
        again = C.load_config(params.pop("scenario"), **overrides(params))   # as `gandiag run` does
    finally:
        os.chdir(here)
    assert C.to_dict(again) == C.to_dict(cfg)


def test_a_shipped_scenario_run_names_the_scenario_and_no_file():
    cfg = C.load_config("grid25", g_norm="none", d_lr=3e-4, unrolled=2)
    assert command_line(C.to_dict(cfg)) == ("gandiag run grid25 --g-norm none --d-lr 0.0003 --unrolled 2", None)


@pytest.mark.parametrize("name, file", [("my run", "scenario.toml"), ("-x", "scenario.toml"),
                                        ("ring8", "ring8.toml")])
def test_a_run_with_settings_that_have_no_flag_gets_a_scenario_file_holding_every_setting(name, file):
    cfg = C.make_config({"scenario": name}, data="mixture", centres=[[0, 1]], stds=[0.5], d_lr=1 / 3,
                        spectral_norm=True)
    assert command_line(C.to_dict(cfg)) == (f"gandiag run {file}", (file, (
        f'scenario = "{name}"\ndata = "mixture"\ncentres = [[0, 1]]\nstds = [0.5]\nd_lr = 0.3333333333333333\n'
        "spectral_norm = true\n")))


def test_a_scenario_file_holds_a_setting_that_does_nothing_only_beside_a_flag_that_decides_it():
    """As grid25's maxout_pieces under `--d-act relu`: held by the file alone, it would be refused."""
    values = {**C.read_scenario("grid25"), "scenario": "own", "maxout_pieces": 3}
    command, (_, text) = command_line(C.to_dict(C.make_config(values, d_act="relu")))
    assert command == "gandiag run own.toml --d-act relu"
    assert "maxout_pieces = 3\n" in text and "d_act" not in text


def test_the_settings_of_a_scenario_that_is_not_shipped_name_both_sources(tmp_path):
    """A run of `gandiag run my.toml` listed every setting of the file as set by 'command line'."""
    (tmp_path / "my.toml").write_text("modes = 6\nd_lr = 3e-4\n")
    cfg = C.load_config(str(tmp_path / "my.toml"), steps=20)
    assert settings_table(C.to_dict(cfg)) == [(key, value, C.DEFAULTS[key], "scenario my or command line")
                                              for key, value in (("modes", 6), ("steps", 20), ("d_lr", 3e-4))]
