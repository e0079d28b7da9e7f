"""A user's own GAN losses in training: config `g_loss` / `d_loss` = "FILE.py:FUNCTION" or "MODULE:FUNCTION",
the same form `gandiag check-loss` takes (so the loss a user checked is the loss that trains).

    g_loss(fake_logits) -> scalar                 what G minimises
    d_loss(real_logits, fake_logits) -> scalar    what D minimises

Each is loaded once when the run starts and tried on a small batch of logits: a loss that cannot be
imported, raises, returns anything but a finite scalar or has no gradient is a one-line ConfigError
before anything trains. The run folder records each loss's source text and its sha256, and a file's
absolute path, from which `gandiag resume` loads it wherever it is run.
"""
from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Callable

import torch

from . import losses
from .config import ConfigError

ROLES = {"g_loss": "generator", "d_loss": "discriminator"}


def load(spec: str, field: str, where: str | None = None) -> Callable:
    """The function `spec` names, checked on a small batch of logits; `where`: the spec to load it from
    (located, e.g. the file where the run started), `spec` itself in messages."""
    from .testing.kit import KitError, load_loss   # the same loader as check-loss
    try:
        fn = load_loss(where or spec)
    except KitError as e:
        raise ConfigError(f"{field} = {spec!r}: {e}") from None
    _try(fn, field, spec)
    return fn


def _try(fn: Callable, field: str, spec: str) -> None:
    from .testing.kit import KitError, refuse_another_role, try_on_logits
    other = next(f for f in ROLES if f != field)
    try:   # a loss of the other role would fail below with a TypeError that does not say so
        refuse_another_role(fn, ROLES[field], f"give it as {other}")
    except KitError as e:
        raise ConfigError(f"{field} = {spec!r}: {e}") from None
    try:
        value = try_on_logits(fn, ROLES[field])
    except KitError as e:
        raise ConfigError(f"{field} = {spec!r} {e}") from None
    except (Exception, SystemExit) as e:  # the user's code, shown in one line (sys.exit would end the run with 0)
        raise ConfigError(f"{field} = {spec!r} fails on a batch of logits: {type(e).__name__}: {e}"
                          f"{_import_at_the_top(fn, e)}") from None
    if not torch.isfinite(value).all():
        raise ConfigError(f"{field} = {spec!r} returns {value.item()} on logits in [-3, 3]: expected a finite value")


def _import_at_the_top(fn: Callable, e: BaseException) -> str:
    """The remedy where the loss imports a module beside its file when called: its folder is importable
    only while the file itself runs (the loader leaves the caller's sys.path as it was)."""
    code = getattr(fn, "__code__", None)
    if not isinstance(e, ModuleNotFoundError) or code is None or not e.name:
        return ""
    folder = Path(code.co_filename).parent
    top = e.name.partition(".")[0]
    if not ((folder / f"{top}.py").is_file() or (folder / top).is_dir()):
        return ""
    return f" ({top} beside the file is importable from its top level only: import it there)"


def objective(cfg, record: dict | None = None) -> losses.Objective:
    """What a run of cfg minimises: its `loss`, with g_loss / d_loss in place of that loss's parts.
    record: the config.json of the run it resumes, whose files are looked for where it started."""
    own = (record or {}).get("losses") or {}
    base = losses.builtin(cfg.loss)
    g = load(cfg.g_loss, "g_loss", _located(cfg.g_loss, "g_loss", own.get("g_loss"))) if cfg.g_loss else base.g
    if not cfg.d_loss:
        return losses.Objective(base.d, g)
    d = load(cfg.d_loss, "d_loss", _located(cfg.d_loss, "d_loss", own.get("d_loss")))
    # targets are gandiag's (label smoothing and noise, refused with d_loss by config validation)
    return losses.Objective(lambda real, fake, *targets: d(real, fake), g)


def describe(cfg) -> dict:
    """config.json's `losses` entry: each own loss's spec, source text and sha256 (empty without one), and
    a file's absolute path: a relative one is where the run started, not where it is resumed."""
    out = {}
    for field in ROLES:
        spec = getattr(cfg, field)
        if spec:
            source = _source(spec)
            file = _file(spec)
            out[field] = {"spec": spec, **({"path": str(file.resolve())} if file else {}),
                          "sha256": hashlib.sha256(source.encode()).hexdigest(), "source": source}
    return out


def changed_since(record: dict) -> str | None:
    """How an own loss differs from the one a folder's config.json recorded, and what brings it back
    (None: the same, or none recorded): a resumed run that trained on with another loss would hold rows
    of two objectives under one config. A loss file gone from where the run started and from here is a
    ConfigError; another that cannot be read now is left to `load` to report."""
    from .testing.kit import KitError
    for field, was in (record.get("losses") or {}).items():
        try:
            now = hashlib.sha256(_source(_located(was["spec"], field, was)).encode()).hexdigest()
        except (OSError, KitError):
            continue
        if now != was["sha256"]:
            return (f"its {field} {was['spec']} has changed since it trained (sha256 {was['sha256'][:12]}, now "
                    f"{now[:12]}): put back the source config.json holds under losses.{field}.source")
    return None


def _located(spec: str, field: str, was: dict | None) -> str:
    """The spec to load a resumed run's loss from: its file where the run started (config.json's path)
    where that is still there, else the spec as given, from here (the project moved as a whole)."""
    file = _file(spec)
    if file is None or not was or "path" not in was:
        return spec
    if Path(was["path"]).is_file():
        return f"{was['path']}:{spec.rpartition(':')[2]}"
    if file.is_file():
        return spec
    here = "" if file.is_absolute() else f" nor {file} in {Path.cwd()}"
    raise ConfigError(f"{field} = {spec!r}: no file {was['path']} (where the run started){here}: put the file "
                      f"back (config.json holds its source under losses.{field}.source)")


def _file(spec: str) -> Path | None:
    """The file a FILE.py:FN spec names (None: a MODULE:FN spec)."""
    target = spec.rpartition(":")[0]
    return Path(target) if target.endswith(".py") or "/" in target else None


def _source(spec: str) -> str:
    """The text of the file (FILE.py:FN) or module (MODULE:FN) that defines the loss."""
    file = _file(spec)
    if file is not None:
        return file.read_text(encoding="utf-8")
    from .testing.kit import load_loss
    return inspect.getsource(inspect.getmodule(load_loss(spec)))
