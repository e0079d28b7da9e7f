"""benchmarks.bench_step: its loops run the engine paths they are named after."""
from __future__ import annotations

import importlib
from pathlib import Path

from gandiag.engine import GENERIC
from gandiag.engine.fast import FastEngine
from gandiag.engine.generic import GenericEngine

ROOT = Path(__file__).resolve().parents[1]


def test_the_generic_path_loop_trains_on_the_generic_path_and_fast_in_closed_form(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))   # benchmarks/ is a package of the clone
    bench_step = importlib.import_module("benchmarks.bench_step")
    closed, generic = bench_step.fast(0), bench_step.fast(0, path=GENERIC)
    assert type(closed.__self__) is FastEngine and type(generic.__self__) is GenericEngine
    for step in (closed, generic):
        step()
