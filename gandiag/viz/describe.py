"""A run in words, read from its folder alone: the command that made it, the settings that differ from
the defaults, its headline numbers, its verdicts as sentences, and short labels for runs shown side by
side. The report viewer, the figures and the frame titles all take their words from here, so a run made
from Python reads the same as one made on the command line.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from .. import config as C, record as R
from ..methods import METHOD_KEYS, method_words

#: settings that say what a run is rather than how it trains: never flags, never labels
_NOT_SETTINGS = ("scenario", "description")
#: per metrics group: (title, ((key, line label), ...)). A toy run's modes count high-quality (HQ)
#: samples; an image run's classes are its classifier's, strict meaning >= 10 % of a uniform share
TOY_CURVES = (
    ("losses", ((R.D_LOSS, "D"), (R.G_LOSS, "G"))),
    ("modes captured", ((R.MODES, "≥ 1 HQ"), (R.MODES_STRICT, "≥ 1 %"))),
    ("high-quality share", ((R.HQ, None),)),
    # logged against a user's own points (modes or not)
    ("k-NN scores", ((R.KNN_PRECISION, "precision"), (R.KNN_RECALL, "recall"), (R.KNN_COVERAGE, "coverage"))),
    ("reverse KL (nats)", ((R.REVERSE_KL, None),)),
    ("saturated share", ((R.SAT_SHARE, f"D(G(z)) < {R.SATURATED_BELOW:g}"),)),
)
IMAGE_CURVES = (
    ("losses", ((R.D_LOSS, "D"), (R.G_LOSS, "G"))),
    ("classes generated", ((R.MODES, "≥ 1 sample"), (R.MODES_STRICT, "≥ 10 % of fair"))),
    ("classifier score", ((R.CLASSIFIER_SCORE, None),)),
    ("Frechet distance", ((R.FRECHET_DISTANCE, None),)),
    ("reverse KL (nats)", ((R.REVERSE_KL, None),)),
)


def curve_groups(is_image: bool) -> tuple:
    return IMAGE_CURVES if is_image else TOY_CURVES


def scenario_base(config: dict) -> tuple[dict, bool]:
    """(the settings the run's scenario gives, whether that scenario was found): a shipped scenario's
    values, or the defaults for a scenario file that is not shipped."""
    name = str(config.get("scenario", ""))
    if name in C.scenario_names():
        return C.to_dict(C.load_config(name)), True
    return C.to_dict(C.make_config()), False


def _flag(name: str, value) -> str:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{name.replace('_', '-')}"
    if isinstance(value, (list, tuple)):
        return f"{flag} {','.join(map(str, value))}"
    return f"{flag} {shlex.quote(str(value))}"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a JSON string is a TOML basic string once DEL, which TOML refuses unescaped, is escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return repr(value)   # ints, and floats as the shortest text that reads back to the same float


def _where_it_trained(key: str, value, record: dict, folder) -> str:
    """A file setting as a path that reads the same file from any folder: a relative path was relative to
    where the run started, which the folder does not record. Your points are the run folder's copy (what
    it trained on, as resume reads it), a loss file the absolute path config.json holds."""
    if key == "data_file" and folder is not None and (record.get("target") or {}).get("file"):
        return str((Path(folder) / record["target"]["file"]).resolve())
    located = ((record.get("losses") or {}).get(key) or {}).get("path")
    return f"{located}:{value.rpartition(':')[2]}" if located else value


def command_line(config: dict, record: dict | None = None, folder=None) -> tuple[str, tuple[str, str] | None]:
    """(a `gandiag run` command that makes this run again, the scenario file it reads as (name, text), or
    None where it names a shipped scenario, with the settings that differ from it as flags). A run of no
    shipped scenario (a file of the user's, whose path the folder does not record, or a Config made in
    Python) or with settings that have no flag (a custom mixture's centres) gets a scenario file holding
    its name, description and every setting that differs from the defaults; flags give only the settings
    that decide one of those that does nothing (grid25's maxout_pieces under --d-act relu), which a file
    may hold only where a flag changed what decides it. record, folder: the run's config.json and folder,
    to name its files as paths that work from anywhere."""
    record = record or {}
    config = {k: _where_it_trained(k, v, record, folder) if k in _FILE_SETTINGS else v
              for k, v in config.items() if k in C.FIELDS}
    base, shipped = scenario_base(config)
    name = str(config.get("scenario", "custom"))
    if shipped and all(C.FIELDS[k].metadata["cli"] or C.same_setting(v, base.get(k)) for k, v in config.items()):
        flags = [_flag(k, v) for k, v in config.items()
                 if k not in _NOT_SETTINGS and not C.same_setting(v, base.get(k))]
        return " ".join([f"gandiag run {name}", *flags]), None
    defaults, deciders = C.to_dict(C.make_config()), C.deciders_of_idle(config)
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in config.items()
                   if k == "scenario" or k not in deciders and not C.same_setting(v, defaults.get(k)))
    file = f"{name}.toml" if re.fullmatch(r"\w[\w.-]*", name) else "scenario.toml"
    flags = [_flag(k, v) for k, v in config.items() if k in deciders]
    return " ".join([f"gandiag run {shlex.quote(file)}", *flags]), (file, text)


#: settings that name a file
_FILE_SETTINGS = ("data_file", "g_loss", "d_loss")


def settings_table(config: dict) -> list[tuple[str, object, object, str]]:
    """(setting, value, default, where it came from) for each setting that differs from the defaults;
    'from' is the shipped scenario or 'command line' (a setting that differs from the scenario too). Of a
    scenario that is not shipped (a file of the user's, a Config made in Python) the folder holds only
    the resulting values, so a setting's source is either."""
    base, shipped = scenario_base(config)
    defaults = C.to_dict(C.make_config())
    scenario = str(config.get("scenario", "custom"))
    rows = []
    for key, value in config.items():
        default = defaults.get(key)
        if key in _NOT_SETTINGS or (key in defaults and C.same_setting(value, default)):
            continue
        if not shipped:
            source = f"scenario {scenario} or command line"
        else:
            told = key in base and C.same_setting(value, base[key])
            source = f"scenario {scenario}" if told else "command line"
        rows.append((key, value, default, source))
    return rows


def verdict_items(doc) -> list[dict]:
    """diagnosis.json's verdicts read generically: title, severity, message, remedies, the [first, last]
    step range of the evidence (None when it has none) and the rest of the evidence. Malformed entries
    are skipped: a picture never fails over a diagnosis."""
    items = doc.get(R.VERDICTS) if isinstance(doc, dict) else None
    out = []
    for v in items if isinstance(items, list) else []:
        if not isinstance(v, dict):
            continue
        title = v.get(R.V_TITLE) or v.get(R.V_RULE)
        if not isinstance(title, str):
            continue
        evidence = v.get(R.V_EVIDENCE) if isinstance(v.get(R.V_EVIDENCE), dict) else {}
        steps = evidence.get(R.EV_STEPS)
        span = [int(s) for s in steps[:2]] if isinstance(steps, list) and len(steps) >= 1 and \
            all(isinstance(s, (int, float)) for s in steps[:2]) else None
        if span and len(span) == 1:
            span = span * 2
        remedies = v.get(R.V_REMEDIES)
        out.append({"title": title, "severity": str(v.get(R.V_SEVERITY) or ""),
                    "message": str(v.get(R.V_MESSAGE) or ""),
                    "remedies": [str(r) for r in remedies] if isinstance(remedies, list) else [],
                    "steps": span,
                    "evidence": {k: e for k, e in evidence.items() if k != R.EV_STEPS}})
    return out


def verdict_sentence(item: dict) -> str:
    """'Mode hopping: the generator rotates through the modes, from step 12,000 to 25,000.'"""
    title = item["title"].rstrip(". ")
    span = item["steps"]
    if span is None:
        return f"{title}."
    if span[0] == span[1]:
        return f"{title}, at step {span[0]:,}."
    return f"{title}, from step {span[0]:,} to {span[1]:,}."


def short_labels(configs: list[dict], folders: list[str]) -> list[str]:
    """Labels for runs shown side by side, as short as tells them apart: the scenario when scenarios
    differ, the method when methods differ, then other settings that differ (at most three), and the
    folder name when nothing else does."""
    def differing(keys):
        return [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]

    parts: list[list[str]] = [[] for _ in configs]
    if differing(["scenario"]):
        for p, c, folder in zip(parts, configs, folders):
            p.append(str(c.get("scenario") or folder))   # a user's own loop records no scenario
    methods = [method_words(c) for c in configs]
    if len(set(methods)) > 1:
        for p, m in zip(parts, methods):
            p.append(m)
    labels = [", ".join(p) for p in parts]
    if len(set(labels)) < len(labels):
        # a target's setting is left out where the scenario's name tells it, and goes first where one scenario
        # holds two targets (a reproduction's grid is its ring's preset with data = "grid")
        def told_by_scenario(key):
            return all(len({json.dumps(c.get(key), sort_keys=True) for c in configs if c.get("scenario") == name}) == 1
                       for name in {c.get("scenario") for c in configs})
        keys = [k for k in differing(sorted(set().union(*configs))) if k not in _NOT_SETTINGS and k not in METHOD_KEYS
                and not (k in _TARGET_KEYS and told_by_scenario(k))]
        keys = sorted(keys, key=lambda k: k not in _TARGET_KEYS)[:3]
        labels = [", ".join(p + [f"{k}={c.get(k)}" for k in keys]) for p, c in zip(parts, configs)]
    if len(set(labels)) < len(labels) or not all(labels):
        labels = list(folders)
    return labels


#: the settings of a run's target, which its scenario's name usually tells
_TARGET_KEYS = ("data", "modes", "radius", "spacing", "std", "centres", "stds", "weights")


