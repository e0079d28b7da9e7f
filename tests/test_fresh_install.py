"""What a fresh clone and a fresh install need and must not bring: the benchmarks run from the clone
alone, every document a scenario, README or the package cites exists, and the installed package puts
no module named `cli` on the path (.ci/run builds a fresh environment and runs this suite in it)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: a path under docs/ in running text, up to its last letter or digit (not a full stop or a bracket)
DOC_PATH = re.compile(r"docs/[\w./-]*\w")


def python(*args, cwd: Path, path: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python args` in `cwd`, with `path` (or nothing from this checkout) on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path:
        env["PYTHONPATH"] = str(path)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The package and the benchmarks, copied into a folder with nothing beside them."""
    root = tmp_path_factory.mktemp("clone") / "gandiag"
    for folder in ("gandiag", "benchmarks"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_benchmarks_list_their_suites_from_a_clone_alone(clone):
    done = python("-m", "benchmarks", "--help", cwd=clone, path=clone)
    assert done.returncode == 0, done.stderr
    assert "--suites" in done.stdout and "threads" in done.stdout


def test_the_step_benchmark_times_the_plain_loop_from_a_clone_alone(clone):
    done = python("-m", "benchmarks.bench_step", "--reps", "1", "--block", "1", cwd=clone, path=clone)
    assert done.returncode == 0, done.stderr
    assert re.search(r"naive +\d+\.\d+ ms/iteration", done.stdout)
    assert re.search(r"fast / naive: \d+\.\d+", done.stdout)


def test_the_threads_benchmark_runs_from_a_clone_alone(clone):
    done = python("-m", "benchmarks", "--suites", "threads", "--quick", "--reps", "1", "--thread-counts", "1",
                  cwd=clone, path=clone)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\| 1 \| \d+ \(\d+-\d+\) \| \d+ \(\d+-\d+\) \|$", done.stdout, re.MULTILINE), done.stdout


def cited_documents() -> list[tuple[str, str]]:
    """(citing file, cited path) for every docs/... path in the scenario files, README and the package."""
    citing = [*ROOT.glob("scenarios/*.toml"), *ROOT.glob("gandiag/scenarios/*.toml"), ROOT / "README.md",
              *ROOT.glob("gandiag/**/*.py")]
    return [(str(f.relative_to(ROOT)), cited) for f in citing for cited in DOC_PATH.findall(f.read_text())]


def test_every_cited_document_exists():
    cited = cited_documents()
    assert ("scenarios/mnist.toml", "docs/mnist.md") in cited   # the scan sees what it is meant to
    missing = [f"{where} cites {path}" for where, path in cited if not (ROOT / path).exists()]
    assert not missing, "; ".join(missing)


def test_the_installed_package_puts_no_module_named_cli_on_the_path(tmp_path):
    """Looked up from a folder of its own, without this checkout on the path: a top-level `cli` of
    gandiag's would shadow (or be shadowed by) any other package's."""
    done = python("-c", "import importlib.util, gandiag; print(gandiag.__file__); "
                        "print(importlib.util.find_spec('cli'))", cwd=tmp_path)
    # README's test command installs gandiag first (pip install -e ".[test]"), so it must import from anywhere
    assert done.returncode == 0, f"gandiag is not installed in this environment: {done.stderr.strip()[-200:]}"
    assert done.stdout.splitlines()[-1] == "None", done.stdout
