"""The examples run: the two recorded loops of your own, and the quickstart notebook (through nbclient)."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from torch.testing import assert_close

from gandiag import record as R
from gandiag.analysis import analyze_run, format_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args, env=None) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr


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


def test_own_loop_mnist_records_samples_and_classifier_metrics(tmp_path, cache, monkeypatch):
    import os
    run_example("own_loop_mnist.py", "--steps", 20, "--width", 16, "--out", tmp_path / "run",
                env={**os.environ, "GANDIAG_CACHE": str(cache)})
    reader = R.RunReader(tmp_path / "run")
    assert reader.target_kind == "image" and R.SNAP_IMAGES in reader.snapshot(20)
    last = reader.metrics()[-1]
    assert {R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.MODES} <= set(last)
    # the analyzer shows the classes over time: the scored rows, as logged
    analysis, _ = analyze_run(tmp_path / "run")
    series = analysis[R.A_COVERAGE][R.SERIES]
    assert (series[R.STEP][-1], series[R.MODES][-1], series[R.N_CLASSES][-1]) == (20, last[R.MODES], 10)
    assert f"classes {last[R.MODES]} / 10" in format_report(analysis, [])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # jupyter_client's own, on import
def test_the_quickstart_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDIAG_QUICKSTART_STEPS", "60")
    monkeypatch.setenv("GANDIAG_QUICKSTART_OUT", str(tmp_path / "runs"))
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if o.output_type == "display_data" and "text/html" in o["data"]]
    assert any("data:image/gif;base64" in h for h in html) and any("<iframe srcdoc=" in h for h in html)
    assert (tmp_path / "runs" / "k10" / R.DIAGNOSIS_FILE).is_file()
