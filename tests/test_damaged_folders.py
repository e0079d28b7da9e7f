"""Run folders damaged by a stray edit or a foreign file: a metrics row that parses but holds values of the
wrong type or an impossible step is read around (docs/reliability.md), and a snapshot array of the wrong
shape or dtype is the same one-line error as a missing one, in every command that reads it."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from gandiag import record as R
from gandiag.cli import main
from gandiag.record.folder import snapshot_bytes
from synth_folder import write_folder
from viz_synth import RING, toy_snapshot, write_run

STEPS = (0, 100, 200)
SMALL = ["--size", "480x270", "--fps", "2"]


def _snapshots(res: int = 16, n: int = 64) -> dict:
    rng = np.random.default_rng(0)
    return {s: toy_snapshot(RING.centres[k] + 0.05 * rng.standard_normal((n, 2)), np.zeros((n, 2)),
                            lambda x, y: 0.5 + 0 * x, res=res) for k, s in enumerate(STEPS)}


def _rows() -> list[dict]:
    counts = [8, 0, 0, 0, 0, 0, 0, 0]
    return [{R.STEP: s, R.D_LOSS: 1.3, R.G_LOSS: 0.7, R.N_SAMPLES: 8, R.MODES: 1, R.MODES_STRICT: 1, R.HQ: 1.0,
             R.REVERSE_KL: 0.1, R.MODE_COUNTS: counts, R.NEAR_COUNTS: counts} for s in range(0, 201, 50)]


def _insert(root, *lines: str) -> None:
    """Lines put into metrics.jsonl after its second row, as a stray edit would."""
    path = root / R.METRICS_FILE
    rows = path.read_text().splitlines()
    path.write_text("\n".join(rows[:2] + list(lines) + rows[2:]) + "\n")


def _one_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


WRONG_TYPES = [{R.MODE_COUNTS: [1, 2]}, {R.MODES: "x", R.HQ: [1], R.MODE_COUNTS: "abc"},
               {R.NEAR_COUNTS: [1, "a", 0, 0, 0, 0, 0, 0]}, {R.D_LOSS: 10 ** 400}, {R.MODE_COUNTS: [True] * 8},
               {R.N_SAMPLES: {"a": 1}}]


@pytest.mark.parametrize("bad", WRONG_TYPES, ids=lambda bad: ",".join(bad))
def test_a_known_key_of_the_wrong_type_reads_as_null_and_keeps_its_row(tmp_path, bad):
    root = write_run(tmp_path / "run", _snapshots(), _rows())
    _insert(root, json.dumps({R.STEP: 75, R.G_LOSS: 0.5, **bad}))
    rows = R.RunReader(root).metrics()
    row = next(r for r in rows if r[R.STEP] == 75)
    assert row[R.G_LOSS] == 0.5 and all(row[k] is None for k in bad)
    assert len(rows) == 6


@pytest.mark.parametrize("data, classes", [("mnist", 10), ("stacked-mnist", 1000)])
def test_an_image_row_counting_another_number_of_classes_reads_as_null_and_analyze_reads_around_it(tmp_path, data,
                                                                                                   classes):
    rows = [{R.STEP: s, R.MODES: 3, R.MODE_COUNTS: [1, 1, 1] + [0] * (classes - 3 if s != 10 else 6)}
            for s in range(0, 21, 5)]
    root = write_folder(tmp_path / "run", {"scenario": data}, rows, target={"kind": "image", "name": data})
    assert [len(r[R.MODE_COUNTS] or []) for r in R.RunReader(root).metrics()] == [classes, classes, 0, classes, classes]
    result = CliRunner().invoke(main, ["analyze", str(root)])
    assert result.exit_code == 0, result.output
    assert f"classes 3 / {classes}" in result.output


@pytest.mark.parametrize("step", [10 ** 22, 2 ** 63, -1, True])
def test_a_row_whose_step_is_not_a_whole_number_in_range_is_skipped(tmp_path, step):
    root = write_run(tmp_path / "run", _snapshots(), _rows())
    _insert(root, json.dumps({R.STEP: step, R.D_LOSS: 1}))
    assert [r[R.STEP] for r in R.RunReader(root).metrics()] == list(range(0, 201, 50))


@pytest.fixture(scope="module")
def garbled_rows(tmp_path_factory):
    """A run whose metrics hold a row of every kind of damage above."""
    root = write_run(tmp_path_factory.mktemp("rows") / "run", _snapshots(), _rows())
    _insert(root, *(json.dumps({R.STEP: 75, **bad}) for bad in WRONG_TYPES),
            json.dumps({R.STEP: 10 ** 22, R.D_LOSS: 1}), json.dumps({R.STEP: -5, R.D_LOSS: 1}))
    return root


@pytest.mark.parametrize("command", [["analyze"], ["report"], ["figure", "--size", "4x3", "--dpi", "20"],
                                     ["animate", *SMALL]], ids=lambda c: c[0])
def test_every_command_reads_a_run_whose_metrics_rows_are_damaged(garbled_rows, command):
    before = (garbled_rows / R.METRICS_FILE).read_bytes()
    out = garbled_rows / f"out_{command[0]}"
    extra = ["--out", str(out / "figure.png")] if command[0] == "figure" else \
        ["--out", str(out / "a.gif")] if command[0] == "animate" else []
    if extra:
        out.mkdir()
    result = CliRunner().invoke(main, [command[0], str(garbled_rows), *command[1:], *extra])
    assert result.exit_code == 0, result.output
    assert (garbled_rows / R.METRICS_FILE).read_bytes() == before


BAD_ARRAYS = {"fakes 1-D": (R.SNAP_FAKES, np.zeros(5)), "fakes text": (R.SNAP_FAKES, np.array([["a", "b"]])),
              "arrows 4-D": (R.SNAP_ARROWS, np.zeros((2, 2, 2, 2))), "d_grid 3x3": (R.SNAP_D_GRID, np.zeros((3, 3))),
              "fakes complex": (R.SNAP_FAKES, np.zeros((64, 2), dtype=complex)),
              "arrows fewer": (R.SNAP_ARROWS, np.zeros((10, 2))), "no fakes": (R.SNAP_FAKES, np.zeros((0, 2)))}
COMMANDS = {"analyze": [], "animate": SMALL, "report": [], "compare": [*SMALL, "--format", "gif"]}


def _damaged_run(root, key, value):
    """A run whose snapshot of step 100 was damaged on disk (the recorder refuses to write such arrays)."""
    snaps = _snapshots()
    root = write_run(root, snaps, _rows())
    path = root / R.SNAPSHOT_DIR / R.snapshot_name(100)
    path.write_bytes(snapshot_bytes(100, {**snaps[100], key: value}))
    return root


@pytest.mark.parametrize("key,value", BAD_ARRAYS.values(), ids=list(BAD_ARRAYS))
def test_a_snapshot_array_of_the_wrong_shape_or_dtype_is_damage_when_opened(tmp_path, key, value):
    reader = R.RunReader(_damaged_run(tmp_path / "run", key, value))
    reader.snapshot(0)
    with pytest.raises(R.RunError, match=r"step_00000100\.npz has a '\w+' array .*: it is damaged"):
        reader.snapshot(100)


@pytest.fixture(scope="module")
def damaged_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("snaps")
    return {name: _damaged_run(base / name.replace(" ", "_"), key, value) for name, (key, value) in BAD_ARRAYS.items()}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", list(BAD_ARRAYS))
def test_every_command_gives_one_line_for_a_damaged_snapshot_array(damaged_runs, tmp_path, command, damage):
    root = damaged_runs[damage]
    runs = [str(root), str(root), "--labels", "a,b"] if command == "compare" else [str(root)]
    out = ["--out", str(tmp_path / ("cmp" if command == "compare" else "a.gif"))] if command in ("compare",
                                                                                               "animate") else []
    line = _one_line_error(CliRunner().invoke(main, [command, *runs, *COMMANDS[command], *out]))
    assert "step_00000100.npz" in line and "it is damaged" in line


def test_a_snapshot_whose_d_grid_differs_from_the_runs_others_is_one_line_naming_it(tmp_path):
    snaps = _snapshots()
    snaps[200] = toy_snapshot(snaps[200][R.SNAP_FAKES], snaps[200][R.SNAP_ARROWS], lambda x, y: 0.5 + 0 * x, res=8)
    root = write_run(tmp_path / "run", snaps, _rows())
    line = _one_line_error(CliRunner().invoke(main, ["report", str(root)]))
    assert "step_00000200.npz has a 8x8 d_grid" in line and "damaged" in line
