"""A reproduce protocol: a paper's table as data (gandiag/protocols/<name>.toml), and the cells it asks for.

A protocol names the methods (each a set of config flags), the scenarios (shipped presets), the seeds and
steps of each profile (quick: what a CPU trains in minutes to an hour; paper: the published protocol),
the evaluation (samples, metric keys), and the published numbers with their source and what their ±
is. docs/reproduce.md describes the file; every key is checked here, with one-line errors.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import record as R
from ..config import Config, ConfigError, load_config, read_scenario, shipped, shipped_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

PROFILES = ("quick", "paper")
#: what the published ± means: standard error of the mean, standard deviation, or no ± printed
ERRORS = {"sem": "s.e.", "std": "s.d.", "none": "s.e."}
#: the final metrics row's keys a protocol may table (means over seeds), and the outcomes (counts)
ROW_KEYS = (R.MODES, R.MODES_STRICT, R.HQ, R.REVERSE_KL, R.CLASSIFIER_SCORE, R.FRECHET_DISTANCE)


class ProtocolError(ConfigError):
    """A protocol file that cannot be used, in one line."""


@dataclass(frozen=True)
class Method:
    id: str
    label: str
    flags: dict


@dataclass(frozen=True)
class Scenario:
    id: str
    preset: str
    label: str
    settings: dict


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    scale: float
    digits: int

    @property
    def counted(self) -> bool:
        """An outcome: the table counts the seeds that show it, with no ±."""
        return self.key in R.OUTCOMES


@dataclass(frozen=True)
class Claim:
    """A published ordering: on `scenario`, `metric` is higher for `higher` than for `lower`; the table
    shows it on the row of `row` (one of the two)."""
    scenario: str
    metric: str
    higher: str
    lower: str
    row: str
    source: str


@dataclass(frozen=True)
class Profile:
    seeds: int
    steps: int
    settings: dict


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    source: str
    error: str
    samples: int
    settings: dict
    profiles: dict
    scenarios: tuple
    methods: tuple
    metrics: tuple
    published: dict          # (scenario, method, key) -> (value, ± or None) or a text
    stated: tuple            # the orderings the paper states in words
    strip: bool = False      # a strip figure of each method's first seed
    notes: str = ""
    path: Path = field(default=Path(), compare=False)

    def method(self, mid: str) -> Method:
        return next(m for m in self.methods if m.id == mid)

    def claims(self) -> list[Claim]:
        """The stated orderings, then those the published numbers imply against the first method: a gap
        larger than the two printed ± combined."""
        base, out = self.methods[0].id, list(self.stated)
        for s in self.scenarios:
            for metric in self.metrics:
                b = self.published.get((s.id, base, metric.key))
                for m in self.methods[1:]:
                    p = self.published.get((s.id, m.id, metric.key))
                    if not (isinstance(b, tuple) and isinstance(p, tuple)):
                        continue
                    gap, width = p[0] - b[0], math.hypot(p[1] or 0.0, b[1] or 0.0)
                    if abs(gap) > width:
                        hi, lo = (m.id, base) if gap > 0 else (base, m.id)
                        out.append(Claim(s.id, metric.key, hi, lo, m.id, "published numbers"))
        return out

    def check_overrides(self, overrides: dict | None) -> None:
        """Refuse a caller's override of what the table states: the cells' steps (its title), their seeds
        (0 .. seeds - 1, one per cell) and any flag by which the methods differ (their labels). A --set comes
        last, so it would win silently: cells of 5 steps under a title of 25,000, every seed one run (an error
        of 0), every method one method under several labels."""
        varied = {key: m.label for m in self.methods for key in m.flags}
        for key in overrides or {}:
            if key == "steps":
                why = "the table's title states the cells' steps, which --steps gives: use --steps N"
            elif key == "seed":
                why = "each cell has its own seed, 0 .. N - 1 of --seeds N: use --seeds"
            elif key in varied:
                why = (f"the protocol's methods set it ({varied[key]!r} among them), so they would all be one method "
                       "under their own labels: give a protocol file of your own")
            else:
                continue
            raise ProtocolError(f"--set {key} is refused: {why}")

    def config(self, scenario: Scenario, method: Method, seed: int, steps: int, profile: str,
               overrides: dict | None = None) -> Config:
        """The config of one cell: the preset, then the protocol's, the scenario's, the profile's settings,
        the method's flags, the evaluation samples, steps and seed, and last the caller's overrides."""
        values = {**self.settings, **scenario.settings, **self.profiles[profile].settings, **method.flags,
                  "eval_samples": self.samples, "steps": steps, "seed": seed, **(overrides or {})}
        return load_config(scenario.preset, **values)


# --- reading ---------------------------------------------------------------------------------------

def protocol_dir():
    return shipped("protocols")


def protocol_names() -> list[str]:
    return shipped_names("protocols")


def load_protocol(name_or_path: str) -> Protocol:
    """A shipped protocol by name, or a protocol file by path, checked."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = Path(str(protocol_dir() / f"{name_or_path}.toml"))
        if not path.is_file():
            raise ProtocolError(f"unknown protocol {name_or_path!r}: choose one of {', '.join(protocol_names())} "
                                "(gandiag reproduce --list) or give a path to a .toml file")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ProtocolError(f"protocol file {path} cannot be read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ProtocolError(f"protocol {path.name} is not valid TOML ({e}): fix the file") from None
    return _parse(path, table)


def _parse(path: Path, t: dict) -> Protocol:
    where = path.name

    def need(table: dict, key: str, kind, what: str):
        value = table.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ProtocolError(f"{where}: {what}{key} is missing or not a {kind.__name__}")
        return value

    unknown = set(t) - {"title", "source", "error", "samples", "settings", "profiles", "scenarios", "methods",
                        "metrics", "published", "claims", "strip", "notes"}
    if unknown:
        raise ProtocolError(f"{where}: unknown key {sorted(unknown)[0]!r}: see docs/reproduce.md for the keys")
    error = need(t, "error", str, "")
    if error not in ERRORS:
        raise ProtocolError(f"{where}: error = {error!r}: expected one of {', '.join(ERRORS)}")
    profiles = {}
    for name in PROFILES:
        p = need(need(t, "profiles", dict, ""), name, dict, "profiles.")
        profiles[name] = Profile(need(p, "seeds", int, f"profiles.{name}."), need(p, "steps", int, f"profiles.{name}."),
                                 p.get("settings", {}))
    scenarios = tuple(Scenario(need(s, "id", str, "scenarios."), need(s, "scenario", str, "scenarios."),
                               s.get("label", s["id"]), s.get("settings", {})) for s in need(t, "scenarios", list, ""))
    methods = tuple(Method(need(m, "id", str, "methods."), need(m, "label", str, "methods."), m.get("flags", {}))
                    for m in need(t, "methods", list, ""))
    metrics = tuple(Metric(need(m, "key", str, "metrics."), m.get("label", m["key"]), float(m.get("scale", 1)),
                           int(m.get("digits", 2))) for m in need(t, "metrics", list, ""))
    ids = {"scenario": {s.id for s in scenarios}, "method": {m.id for m in methods}, "metric": {m.key for m in metrics}}
    for m in metrics:
        if m.key not in ROW_KEYS and m.key not in R.OUTCOMES:
            raise ProtocolError(f"{where}: metric {m.key!r} is not tabled: choose from "
                                f"{', '.join([*ROW_KEYS, *R.OUTCOMES])}")
    published = _published(where, t.get("published", {}), ids)
    stated = tuple(_claim(where, c, ids) for c in t.get("claims", []))
    protocol = Protocol(path.stem, need(t, "title", str, ""), need(t, "source", str, ""), error,
                        need(t, "samples", int, ""), t.get("settings", {}), profiles, scenarios, methods, metrics,
                        published, stated, bool(t.get("strip", False)), t.get("notes", ""), path)
    for s in scenarios:   # a flag or setting that is no config field fails here, not in the middle of a run
        read_scenario(s.preset)
        for m in methods:
            for profile in PROFILES:
                try:
                    protocol.config(s, m, 0, profiles[profile].steps, profile)
                except ConfigError as e:
                    raise ProtocolError(f"{where}: {s.id} / {m.id} ({profile}): {e}") from None
    return protocol


def _published(where: str, table: dict, ids: dict) -> dict:
    out = {}
    for sid, methods in table.items():
        for mid, values in methods.items():
            for key, value in values.items():
                for kind, name in (("scenario", sid), ("method", mid), ("metric", key)):
                    if name not in ids[kind]:
                        raise ProtocolError(f"{where}: published.{sid}.{mid}.{key}: no {kind} {name!r} in the protocol")
                if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
                    out[sid, mid, key] = (float(value[0]), float(value[1]))
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[sid, mid, key] = (float(value), None)
                elif isinstance(value, str):
                    out[sid, mid, key] = value
                else:
                    raise ProtocolError(f"{where}: published.{sid}.{mid}.{key} = {value!r}: expected a number, "
                                        "[mean, ±] or a text")
    return out


def _claim(where: str, c: dict, ids: dict) -> Claim:
    try:
        claim = Claim(c["scenario"], c["metric"], c["higher"], c["lower"], c.get("row", c["higher"]), c["source"])
    except KeyError as e:
        raise ProtocolError(f"{where}: a claim lacks {e.args[0]!r} (scenario, metric, higher, lower, source)") from None
    for kind, name in (("scenario", claim.scenario), ("metric", claim.metric), ("method", claim.higher),
                       ("method", claim.lower), ("method", claim.row)):
        if name not in ids[kind]:
            raise ProtocolError(f"{where}: claim names no {kind} of the protocol: {name!r}")
    return claim
