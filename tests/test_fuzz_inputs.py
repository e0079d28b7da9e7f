"""Fuzzed user input: every scenario table, scenario file and samples file either loads or is a one-line error."""
import io
import shutil
import tempfile
import tracemalloc
import json
import re
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gandiag
from gandiag.data import points
from gandiag.data.points import load_samples
from gandiag.config import FIELDS, Config, ConfigError, from_dict, load_config, make_config, to_dict
from gandiag.memory import check_fits
from cli_runs import cli
from tiny import FUZZ_RUN, QUIET, flags

HINTS = typing.get_type_hints(Config)

# parsing is cheap: four times the loaded profile's examples (dev 40, ci 400), never a number of its own
PARSING = settings(settings.default, max_examples=4 * settings.default.max_examples, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- what a TOML file can hold (plus None, which the CLI uses for "not given") ------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-3, 3), st.floats(), st.text(max_size=8),
                    st.dates(), st.datetimes(), st.times())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                           max_size=3), max_leaves=8)


def allowed(name: str) -> st.SearchStrategy:
    """Values a field accepts (by its type, choices and bounds)."""
    meta, kind = FIELDS[name].metadata, HINTS[name]
    lo, hi = meta["lo"], meta["hi"]
    if meta["choices"]:
        return st.sampled_from(meta["choices"])
    if kind is int:
        return st.integers(lo if lo is not None else -5, hi if hi is not None else (lo or 0) + 500)
    if kind is float:
        return st.floats(lo if lo is not None else -5.0, hi if hi is not None else 1e3, exclude_min=meta["lo_open"],
                         exclude_max=meta["hi_open"])
    return {bool: st.booleans(), str: st.text(max_size=8),
            tuple: st.lists(st.integers(1, 64), min_size=1, max_size=3)}[kind]


def near_allowed(name: str) -> st.SearchStrategy:
    """Anything, or a value just outside what the field accepts."""
    meta = FIELDS[name].metadata
    edges = [b for bound in (meta["lo"], meta["hi"]) if bound is not None for b in (bound - 1, bound + 0.5, bound)]
    nested = st.lists(st.lists(st.floats(-5, 5), max_size=3), max_size=3)
    return st.one_of(values, st.sampled_from(edges or [0]), nested)


ALLOWED = {name: allowed(name) for name in FIELDS}
ANYTHING = {name: near_allowed(name) for name in FIELDS}


@st.composite
def tables(draw):
    """A scenario table: some fields with allowed values, some (maybe none) with anything, maybe an unknown key."""
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=6, unique=True))
    wild = draw(st.sets(st.sampled_from(names))) if names else set()
    table = {name: draw(ANYTHING[name] if name in wild else ALLOWED[name]) for name in names}
    if draw(st.integers(0, 3)) == 0:
        table[draw(st.text(max_size=10))] = draw(values)
    return table


@PARSING
@given(tables())
def test_any_scenario_table_loads_into_a_recordable_config_or_is_a_one_line_config_error(table):
    try:
        cfg = make_config(table)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert from_dict(json.loads(json.dumps(to_dict(cfg)))) == cfg  # what loads goes to config.json and back


toml_values = st.one_of(st.integers().map(str), st.floats().map(repr), st.sampled_from(["inf", "-inf", "nan", "true"]),
                        st.text(max_size=6).map(lambda t: '"' + t + '"'), st.just("[1, 2"), st.just("[[0, 0], [1, 1]]"),
                        st.just("1979-05-27"), st.text(max_size=8))
toml_lines = st.one_of(st.builds("{} = {}".format, st.sampled_from(sorted(FIELDS)) | st.text(max_size=6), toml_values),
                       st.sampled_from(["[table]", "[[array]]", "# comment", ""]), st.text(max_size=20))


@PARSING
@given(st.lists(toml_lines, max_size=8), st.binary(max_size=8))
def test_any_scenario_file_loads_or_is_a_one_line_config_error(tmp_path, lines, tail):
    path = tmp_path / "fuzz.toml"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + tail)
    try:
        load_config(str(path))
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)


# --- `gandiag metrics` samples files -----------------------------------------------------------
arrays = st.one_of(
    st.lists(st.lists(st.floats(width=32), min_size=2, max_size=2), max_size=5).map(np.array),
    st.lists(st.floats(), max_size=6).map(np.array),
    st.lists(st.lists(st.integers(-5, 5), min_size=0, max_size=3), min_size=1, max_size=4).filter(
        lambda rows: len({len(r) for r in rows}) == 1).map(np.array),
    st.lists(st.booleans(), max_size=4).map(lambda b: np.array(b).reshape(-1, 2) if len(b) % 2 == 0 else np.array(b)),
    st.lists(st.text(max_size=3), max_size=4).map(np.array),
    st.just(np.zeros((3, 2, 1))), st.just(np.zeros((0, 2))))


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _npz(named: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **named)
    return buf.getvalue()


def _csv(a) -> bytes:
    return "\n".join(",".join(map(str, np.atleast_1d(row))) for row in np.atleast_2d(a)).encode()


samples_files = st.one_of(
    st.tuples(st.just(".npy"), arrays.map(_npy)),
    st.tuples(st.just(".npz"), st.dictionaries(st.sampled_from(["fakes", "x", "arr_0"]), arrays, max_size=2).map(_npz)),
    st.tuples(st.just(".csv"), arrays.map(_csv)),
    st.tuples(st.sampled_from([".csv", ".txt"]),
              st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))),
    st.tuples(st.sampled_from([".npy", ".npz", ".csv", ".json", ""]), st.binary(max_size=64)))


@PARSING
@given(samples_files, st.integers(0, 100))
def test_any_samples_file_loads_as_n_by_2_floats_or_is_a_one_line_error(tmp_path, file, cut_percent):
    """Samples with NaN or inf load (the coverage report scores them as on no mode); a target refuses them
    (test_non_finite_target_points_are_refused_in_one_line)."""
    suffix, data = file
    path = tmp_path / f"samples{suffix}"
    path.write_bytes(data[:max(1, len(data) * cut_percent // 100)] if cut_percent < 100 else data)
    try:
        x = load_samples(path)
    except (ValueError, FileNotFoundError) as e:
        assert str(e) and "\n" not in str(e)
        return
    assert x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == 2 and len(x) > 0


def test_non_finite_target_points_are_refused_in_one_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x,y\n" + "0.5,1.0\n" * 10 + "inf,1.000\n")
    assert load_samples(path).shape == (11, 2)
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))} holds NaN or infinite values: remove them"):
        gandiag.target(path)


def test_target_points_beyond_float32_are_refused_in_one_line(tmp_path):
    # 1e39 is finite in float64 but infinite in the float32 a run trains in
    path = tmp_path / "points.csv"
    path.write_text("x,y\n" + "0.5,1.0\n" * 10 + "1e39,1.000\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))} holds values up to 1e\\+39, beyond float32's "
                                          r"3\.4e\+38: rescale the points"):
        gandiag.target(path)


def test_a_missing_samples_file_is_a_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.npy not found: give a \.npy, \.npz or \.csv file"):
        load_samples(Path(tmp_path / "nowhere.npy"))


def _read(path):
    """load_samples(path), or the one-line error it gives."""
    try:
        return load_samples(path)
    except ValueError as e:
        return str(e)


#: a CSV's pieces: numbers, separators and the characters that break lines, start comments or blank a line
csv_texts = st.lists(st.sampled_from(["1", "-2.5", "1e400", "nan", "inf", "x", "y", ",", ",", "\n", "\n", "\r\n",
                                      "\r", " ", "\t", "#", ";", "\v", "\x1c", "\xa0", "\u2028", "1_0"]),
                     max_size=24).map("".join)


@PARSING
@given(csv_texts)
def test_a_csv_read_at_once_is_what_its_line_by_line_reading_gives(tmp_path, text):
    """numpy reads a valid CSV itself; the checks line by line give what they gave where it cannot."""
    path = tmp_path / "samples.csv"
    path.write_text(text, newline="")
    at_once = _read(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(points, "_read_at_once", lambda path, text: None)
        by_line = _read(path)
    if isinstance(by_line, str):
        assert at_once == by_line
    else:
        np.testing.assert_array_equal(at_once, by_line, strict=True)


def test_a_big_csv_loads_without_a_python_string_per_line(tmp_path):
    """200,000 rows (7.5 MiB): the old checks held each line, its row and its count, 82 MiB at the peak (2M
    rows: 1.1 GB); now the text and numpy's own reading, 15 MiB."""
    x = np.random.default_rng(0).standard_normal((200_000, 2))
    path = tmp_path / "samples.csv"
    path.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in x.tolist()))
    tracemalloc.start()
    try:
        loaded = load_samples(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(loaded, x, strict=True)
    assert peak < 3 * path.stat().st_size, f"peak {peak / 2 ** 20:.0f} MiB for {path.stat().st_size / 2 ** 20:.1f} MiB"


# --- the command line's numeric options at their extremes ------------------------------------------
#: what a user may type for a number: edges, overflows and non-numbers (every value either runs or is refused
#: in one line; none is accepted and then left to overflow, hang or exit 0)
EXTREMES = st.sampled_from(["0", "-1", "3", "0.5", "1e-308", "1e308", "-1e308", "3.4e38", "1", "nan", "inf", "-inf",
                            str(10 ** 30), str(2 ** 31), str(2 ** 63), "1e30"])
NUMERIC_FIELDS = sorted(n for n in FIELDS if HINTS[n] in (int, float) and FIELDS[n].metadata["cli"])
#: tiny runs (2 steps) for the options that train; steps itself is fuzzed through the config only
TINY_RUN = flags(FUZZ_RUN, *QUIET, log_every=1, snapshot_every=1, checkpoint_every=1, device="cpu")


def as_typed(name: str, text: str):
    """The value click hands the config for `text` (an int option refuses "0.5" itself, in one line)."""
    return float(text) if HINTS[name] is float else int(text)


@settings(deadline=None)
@given(st.sampled_from(NUMERIC_FIELDS), EXTREMES)
def test_any_extreme_number_for_a_config_option_makes_a_config_that_fits_or_a_one_line_config_error(name, text):
    try:
        cfg = make_config({**FUZZ_RUN, "scenario": "fuzz"}, **{name: as_typed(name, text)})
        check_fits(cfg)
    except ValueError as e:   # ConfigError; int("0.5") is click's to refuse
        assert str(e) and "\n" not in str(e)


def _one_line_or_runs(result) -> None:
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None))), \
        (result.exception, result.output)
    if result.exit_code:
        said = [line for line in result.output.splitlines() if line.startswith(("Error:", "diverged:"))]
        assert len(said) == 1, result.output


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    assert cli("run", "ring8", "--out", out, *TINY_RUN).exit_code == 0
    return out


#: (command before the option, option, command after it) for the options besides run's config options
READERS = [(["animate", "{run}", "--out", "{tmp}/a.gif"], "--fps", []), (["animate", "{run}", "--out", "{tmp}/a.gif"],
           "--max-frames", []), (["animate", "{run}", "--out", "{tmp}/a.gif"], "--dpi", []),
           (["figure", "{run}", "--out", "{tmp}/f.png"], "--dpi", []),
           (["probe", "saturation", "{run}", "--d-steps", "2"], "--d-lr", []),
           (["probe", "saturation", "{run}"], "--d-steps", ["--d-lr", "1e-3"]),
           (["resume", "{run}", "--quiet", "--no-animate"], "--steps", [])]


# a few real commands per run of the suite (each trains or draws for a second or two); the config test
# above takes the many examples
@settings(settings.default, max_examples=max(2, settings.default.max_examples // 3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.tuples(st.just((["run", "ring8", "--out", "{tmp}/r", *TINY_RUN], None, [])),
                           st.sampled_from(["--seeds", *[f"--{n.replace('_', '-')}" for n in NUMERIC_FIELDS
                                                         if n != "steps"]])),
                 st.sampled_from(READERS).map(lambda r: (r, r[1]))), EXTREMES)
def test_any_extreme_number_on_the_command_line_runs_or_is_one_line_and_a_non_zero_exit(tiny_run, case, text):
    (before, _, after), option = case
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(tiny_run, run)
        args = [a.format(run=run, tmp=tmp) for a in before] + [option, text] + after
        _one_line_or_runs(cli(*args))
