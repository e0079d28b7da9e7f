"""The arrows that must never exist between gandiag's parts (docs/architecture.md), read from every import
statement of the package, those inside functions included."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gandiag"

#: (what imports, what it must never import, why); a name is a module or everything below it
FORBIDDEN = [
    ("gandiag", "gandiag.cli", "the library never imports the CLI"),
    ("gandiag.metrics", "gandiag.train", "analysis reads run folders and arrays: it never trains"),
    ("gandiag.metrics", "gandiag.engine", "analysis reads run folders and arrays: it never trains"),
    ("gandiag.metrics", "gandiag.nets", "analysis reads run folders and arrays: it builds no players"),
    ("gandiag.diagnose", "gandiag.train", "analysis never trains"),
    ("gandiag.diagnose", "gandiag.engine", "analysis never trains"),
    ("gandiag.analysis", "gandiag.train", "analysis never trains"),
    ("gandiag.analysis", "gandiag.engine", "analysis never trains"),
    ("gandiag.analysis", "gandiag.nets", "analysis builds no players"),
    ("gandiag.viz", "gandiag.train", "pictures are drawn from run folders"),
    ("gandiag.viz", "gandiag.engine", "pictures are drawn from run folders"),
    ("gandiag.viz", "gandiag.nets", "pictures are drawn from run folders"),
    ("gandiag.export", "gandiag.train", "exports read run folders"),
    ("gandiag.engine", "gandiag.train", "engines sit below the loop"),
    ("gandiag.record", "gandiag.train", "the recorder serves any training loop"),
    ("gandiag.record", "gandiag.engine", "the recorder serves any training loop"),
    ("gandiag.record", "gandiag.nets", "the recorder knows no particular model class"),
    ("gandiag.record", "gandiag.targets", "the run folder is below what measures a target: a folder's "
     "window is its data's (gandiag.data.toy)"),
    ("gandiag.record", "gandiag.metrics", "the recorder writes what a target measured; it measures nothing"),
    ("gandiag.engine.graphed", "gandiag.engine.fast", "the CUDA graph captures any Step; fast.py builds "
     "its iterations with it"),
    ("gandiag.losses", "gandiag.nets", "losses are functions of logits"),
    ("gandiag.losses", "gandiag.train", "losses are functions of logits: they step no optimiser"),
    ("gandiag.data", "gandiag.train", "data knows nothing of training"),
    ("gandiag.config", "gandiag.train", "the config is the bottom of the house"),
    ("gandiag.reproduce", "gandiag.engine", "reproduce trains cells through gandiag.train's public API only"),
    ("gandiag.reproduce", "gandiag.nets", "reproduce reads run folders and builds no players"),
]


#: `python -m gandiag`: the CLI's launcher, not the library
LAUNCHERS = {"gandiag.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module an import statement of the file names, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)   # `from . import record`
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_graph_is_read_from_every_module():
    assert {"gandiag.train.loop", "gandiag.engine.fast", "gandiag.record.recorder"} <= set(GRAPH)
    assert "gandiag.engine.reference" in GRAPH["gandiag.engine"]   # relative imports are resolved


@pytest.mark.parametrize("importer, imported, why", FORBIDDEN, ids=[f"{a} -/-> {b}" for a, b, _ in FORBIDDEN])
def test_no_forbidden_arrow(importer, imported, why):
    arrows = sorted(f"{src} imports {dst}" for src, dsts in GRAPH.items() if within(src, importer)
                    and src not in LAUNCHERS for dst in dsts if within(dst, imported) and not within(src, imported))
    assert not arrows, f"{why}: " + "; ".join(arrows)


def test_a_forbidden_arrow_is_seen(tmp_path):
    """The check itself: a lazy import inside a function counts."""
    bad = tmp_path / "gandiag" / "metrics" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from ..train.loop import train\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "gandiag"
    try:
        assert "gandiag.train.loop" in imports(bad)
    finally:
        PACKAGE = saved


def test_reproduce_trains_through_the_public_train_api_only():
    # resolve_device and run_threads: where a cell trains and on how many threads, which size its passes
    public = {"gandiag.train", *(f"gandiag.train.{name}" for name in ("run", "resume", "run_pass", "resolve_device",
                                                                     "run_threads"))}
    inner = sorted(f"{src} imports {dst}" for src, dsts in GRAPH.items() if within(src, "gandiag.reproduce")
                   for dst in dsts if within(dst, "gandiag.train") and dst not in public)
    assert not inner, "gandiag.reproduce calls run / resume of gandiag.train, nothing below it: " + "; ".join(inner)
