"""The examples run: the two recorded loops of your own, and the quickstart notebook (through nbclient)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from torch.testing import assert_close

from gandiag import record as R
from gandiag.analysis import analyze_run, format_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def run_example(name: str, *args, env=None) -> None:
    result = example(name, *args, env=env)
    assert result.returncode == 0, result.stderr


def refused(name: str, *args, env=None) -> str:
    """The one line an example ends in when it refuses its options or its folder."""
    result = example(name, *args, env=env)
    assert (result.returncode, result.stdout, result.stderr.count("\n")) == (1, "", 1), result.stderr
    assert result.stderr.startswith(f"{name}: error: ")
    return result.stderr


def cache_env(cache) -> dict:
    return {**os.environ, "GANDIAG_CACHE": str(cache)}


def test_own_loop_2d_records_a_folder_the_analyzer_reads(tmp_path):
    run_example("own_loop_2d.py", "--steps", 250, "--modes", 4, "--out", tmp_path / "run")
    reader = R.RunReader(tmp_path / "run")
    assert reader.snapshot_steps() == [0, 250] and reader.record["target"]["modes"] == "fitted by k-means (k = 4)"
    assert {R.KNN_PRECISION, R.MODES} <= set(reader.metrics()[-1])
    analyze_run(tmp_path / "run")


def test_own_loop_2d_resumed_from_its_checkpoint_records_what_one_uninterrupted_run_records(tmp_path):
    run_example("own_loop_2d.py", "--steps", 300, "--out", tmp_path / "straight")
    run_example("own_loop_2d.py", "--steps", 200, "--out", tmp_path / "split")
    run_example("own_loop_2d.py", "--steps", 300, "--out", tmp_path / "split", "--resume")
    straight, split = R.RunReader(tmp_path / "straight"), R.RunReader(tmp_path / "split")
    assert (tmp_path / "split" / R.METRICS_FILE).read_bytes() == (tmp_path / "straight" / R.METRICS_FILE).read_bytes()
    assert split.snapshot_steps() == straight.snapshot_steps() == [0, 250]
    assert_close(split.snapshot(250)[R.SNAP_FAKES], straight.snapshot(250)[R.SNAP_FAKES], rtol=0, atol=0)
    assert (split.record["resumed_from"], split.status["status"]) == ([200], R.FINISHED)


def test_own_loop_mnist_records_samples_and_classifier_metrics(tmp_path, cache):
    run_example("own_loop_mnist.py", "--steps", 20, "--width", 16, "--out", tmp_path / "run", env=cache_env(cache))
    reader = R.RunReader(tmp_path / "run")
    assert reader.target_kind == "image" and R.SNAP_IMAGES in reader.snapshot(20)
    last = reader.metrics()[-1]
    assert {R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.MODES} <= set(last)
    # the analyzer shows the classes over time: the scored rows, as logged
    analysis, _ = analyze_run(tmp_path / "run")
    series = analysis[R.A_COVERAGE][R.SERIES]
    assert (series[R.STEP][-1], series[R.MODES][-1], series[R.N_CLASSES][-1]) == (20, last[R.MODES], 10)
    assert f"classes {last[R.MODES]} / 10" in format_report(analysis, [])


def test_own_loop_mnist_resumed_from_its_checkpoint_records_what_one_uninterrupted_run_records(tmp_path, cache):
    env, tiny = cache_env(cache), ("--width", 16)
    run_example("own_loop_mnist.py", "--steps", 600, *tiny, "--out", tmp_path / "straight", env=env)
    run_example("own_loop_mnist.py", "--steps", 500, *tiny, "--out", tmp_path / "split", env=env)
    run_example("own_loop_mnist.py", "--steps", 600, *tiny, "--out", tmp_path / "split", "--resume", env=env)
    straight, split = R.RunReader(tmp_path / "straight"), R.RunReader(tmp_path / "split")
    assert (tmp_path / "split" / R.METRICS_FILE).read_bytes() == (tmp_path / "straight" / R.METRICS_FILE).read_bytes()
    assert split.snapshot_steps() == straight.snapshot_steps() == [0, 500, 600]
    assert_close(split.snapshot(600)[R.SNAP_IMAGES], straight.snapshot(600)[R.SNAP_IMAGES], rtol=0, atol=0)
    assert (split.record["resumed_from"], split.status["status"]) == ([500], R.FINISHED)


#: each example with the options that keep it short
EXAMPLE_RUNS = [("own_loop_2d.py", ("--steps", 0)), ("own_loop_mnist.py", ("--steps", 0, "--width", 16))]


@pytest.mark.parametrize("name, options", EXAMPLE_RUNS)
def test_an_example_run_again_into_its_folder_says_in_one_line_to_resume_and_keeps_the_folder(tmp_path, cache, name,
                                                                                             options):
    run_example(name, *options, "--out", tmp_path / "run", env=cache_env(cache))
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert "add --resume" in refused(name, *options, "--out", tmp_path / "run", env=cache_env(cache))
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("name, options", EXAMPLE_RUNS)
def test_an_example_resumed_where_no_run_is_says_so_in_one_line_and_writes_nothing(tmp_path, cache, name, options):
    line = refused(name, *options, "--out", tmp_path / "none", "--resume", env=cache_env(cache))
    assert "run it without --resume" in line and not (tmp_path / "none").exists()


@pytest.mark.parametrize("name", ["own_loop_2d.py", "own_loop_mnist.py"])
def test_an_example_refuses_negative_steps_in_one_line_and_writes_nothing(tmp_path, name):
    assert "--steps -1" in refused(name, "--steps", -1, "--out", tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["own_loop_2d.py", "own_loop_mnist.py"])
def test_an_examples_help_describes_it_in_whole_sentences(name):
    result = example(name, "--help")
    described = " ".join(result.stdout.split("\n\n")[1].split())
    assert (result.returncode, described[-1]) == (0, "."), result.stdout


def test_own_loop_2d_interrupted_says_how_to_go_on_and_resumes_to_what_one_uninterrupted_run_records(tmp_path):
    # a Ctrl-C once the checkpoint of step 500 is written: the loop is then somewhere past it
    run = subprocess.Popen([sys.executable, str(EXAMPLES / "own_loop_2d.py"), "--steps", "100000", "--out",
                            str(tmp_path / "split")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while not (tmp_path / "split" / R.CHECKPOINT_DIR / "step_00000500.pt").is_file() and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert (run.returncode, out, err.count("\n")) == (130, "", 1) and "--resume" in err, err
    assert R.RunReader(tmp_path / "split").status["status"] == R.INTERRUPTED
    run_example("own_loop_2d.py", "--steps", 600, "--out", tmp_path / "split", "--resume")
    run_example("own_loop_2d.py", "--steps", 600, "--out", tmp_path / "straight")
    assert (tmp_path / "split" / R.METRICS_FILE).read_bytes() == (tmp_path / "straight" / R.METRICS_FILE).read_bytes()


def run_all(folder):
    """The notebook's Run All, as Jupyter runs it: its outputs, which hold no error."""
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"], outputs
    return outputs


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # jupyter_client's own, on import
def test_the_quickstart_notebook_runs_and_run_all_again_shows_the_runs_it_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_QUICKSTART_STEPS", "60")
    monkeypatch.setenv("GANDIAG_QUICKSTART_OUT", str(tmp_path / "runs"))
    outputs = run_all(tmp_path)
    html = [o["data"]["text/html"] for o in outputs if o.output_type == "display_data" and "text/html" in o["data"]]
    assert any("data:image/gif;base64" in h for h in html) and any("<iframe srcdoc=" in h for h in html)
    runs = [tmp_path / "runs" / f"k{k}-60-steps" for k in (0, 10)]
    assert all((run / R.DIAGNOSIS_FILE).is_file() for run in runs)
    trained = [(run / R.METRICS_FILE).read_bytes() for run in runs]
    run_all(tmp_path)   # Run All again, as one does in a notebook: the same runs, not trained again
    assert [(run / R.METRICS_FILE).read_bytes() for run in runs] == trained
