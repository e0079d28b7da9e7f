"""benchmarks.bench_protocol: a protocol's time at the paper's steps, from two short reproductions."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))   # benchmarks/ is a package of the clone
    return importlib.import_module("benchmarks.bench_protocol")


def test_the_paper_s_time_is_the_fixed_part_and_the_part_per_step_of_two_short_reproductions(bench, monkeypatch,
                                                                                            capsys):
    asked = []
    monkeypatch.setattr(bench, "timed", lambda protocol, steps, seeds, per_pass, overrides:
                        asked.append((protocol, steps, seeds, per_pass, overrides)) or 5 + 0.01 * steps)
    bench.main(["--steps", "1000,3000", "--seeds-per-pass", "5", "--set", "g_hidden=16,16"])
    assert asked == [("pacgan-table1", s, 10, 5, {"g_hidden": "16,16"}) for s in (1000, 3000)]   # as --set reads it
    out = capsys.readouterr().out
    # 400,000 steps at 10 ms each and 5 s besides: 4,005 s
    assert "per 1,000 steps of every cell 10.00 s, fixed 5.0 s; at the paper's 400,000 steps 66.8 min" in out


def test_two_step_counts_too_close_to_tell_the_time_per_step_are_refused(bench, monkeypatch):
    monkeypatch.setattr(bench, "timed", lambda protocol, steps, *rest: 4.0 if steps == 20 else 3.5)
    with pytest.raises(SystemExit, match="too close to tell the time per step"):
        bench.main(["--steps", "20,60"])
