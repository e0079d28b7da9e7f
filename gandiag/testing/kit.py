"""The kit applied to one loss: which properties apply to a role, the report, and loading a user's loss.

`check_loss` is what `gandiag check-loss` runs; `parametrize_properties` gives the same checks to a
user's own pytest suite, one test case per property.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import multiprocessing
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from hypothesis import settings

from . import properties as P
from .search import Result, register_profiles, searching_with

#: Loss families a discriminator loss can be checked against for its optimum (`optimum=`).
OPTIMUM_CHOICES = (*P.OPTIMA, "wasserstein")
#: seconds `check_loss_apart` waits for the whole check (a loss checked in 4 s on 2 CPU cores)
DEFAULT_TIMEOUT_S = 120.0


class KitError(ValueError):
    """A one-line user error: a loss that cannot be loaded, or options that do not fit together."""


def loss_properties(role: str, optimum: str | None = None) -> dict:
    """The properties that apply to a loss of `role`, by name, each a function of the loss.

    `optimum` (one of OPTIMUM_CHOICES, discriminator only) adds the check that D's optimum is the one
    of that loss family.
    """
    if role not in P.ROLES:
        raise KitError(f"role {role!r} is not allowed: expected one of {', '.join(P.ROLES)}")
    if optimum is not None and role != P.DISCRIMINATOR:
        raise KitError(f"optimum {optimum!r} is not allowed for a {role} loss: it applies to discriminator losses")
    if optimum is not None and optimum not in OPTIMUM_CHOICES:
        raise KitError(f"optimum {optimum!r} is not allowed: expected one of {', '.join(OPTIMUM_CHOICES)}")
    if role == P.GENERATOR:
        own = [P.generator_step_raises_fake_scores, P.non_saturating_gradient]
    else:
        own = [P.discriminator_step_separates]
        if optimum == "wasserstein":
            own.append(P.wasserstein_critic_duality)
        elif optimum is not None:
            own.append(partial(P.optimal_discriminator, optimum=optimum))
    checks = [partial(P.finite_value_and_gradient, role=role), *own, partial(P.batch_permutation_invariance, role=role)]
    return {getattr(c, "func", c).__name__: c for c in checks}


def parametrize_properties(role: str, optimum: str | None = None):
    """A pytest mark running each applicable property as its own test case, passed in as `check`:

        @parametrize_properties("generator")
        def test_my_loss(check):
            check(my_g_loss).raise_if_failed()
    """
    import pytest  # only a user's test suite needs pytest

    checks = loss_properties(role, optimum)
    return pytest.mark.parametrize("check", list(checks.values()), ids=list(checks))


@dataclass(frozen=True)
class Report:
    """All applicable properties of one loss, and (generator losses) its saturation profile."""

    results: tuple[Result, ...]
    profile: str | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def table(self) -> str:
        width = max(len("property"), *(len(r.name) for r in self.results))
        lines = [f"{'property':<{width}}  result  counterexample"]
        for r in self.results:
            shown = f"{r.counterexample}: {r.detail}" if not r.passed else ""
            lines.append(f"{r.name:<{width}}  {'PASS' if r.passed else 'FAIL':<6}  {shown}".rstrip())
        if self.profile is not None:
            lines.append(f"saturation profile: {self.profile}")
        failed = sum(not r.passed for r in self.results)
        lines.append(f"{failed} of {len(self.results)} properties failed" if failed
                     else f"all {len(self.results)} properties hold")
        return "\n".join(lines)


def check_loss(loss, role: str, optimum: str | None = None, examples: int | None = None) -> Report:
    """Run every property that applies to `loss` under the derandomized "ci" profile (the same answer
    every run), with `examples` inputs per property if given."""
    checks = loss_properties(role, optimum)
    if examples is not None and (not isinstance(examples, int) or examples < 1):   # 0 would mean the default
        raise KitError(f"examples = {examples!r} is not allowed: expected a whole number of at least 1 (the inputs "
                       "each property tries), or None for the 'ci' profile's 100")
    refuse_another_role(loss, role)
    try:
        try_on_logits(loss, role)
    except KitError as e:   # no scalar tensor, no gradient or its logits changed: every property would fail alike
        raise KitError(f"{getattr(loss, '__name__', 'the loss')} {e}") from None
    except Exception:   # raising here is a fault of the loss on some input: the table shows where
        pass
    register_profiles()
    profile = settings(settings.get_profile("ci"), **({"max_examples": examples} if examples is not None else {}))
    with searching_with(profile):
        results = tuple(check(loss) for check in checks.values())
    return Report(results, _profile(loss) if role == P.GENERATOR else None)


#: what a loss of each role is called with (gandiag.user_losses calls them so in training)
CALLS = {P.GENERATOR: "f(fake_logits)", P.DISCRIMINATOR: "f(real_logits, fake_logits)"}


def try_on_logits(loss, role: str):
    """The loss's value on a batch of 8 logits in [-3, 3] (a D loss: those as reals, reversed as fakes);
    KitError (the reason, to follow the loss's name) where it changes them in place or its value is not a
    scalar tensor with a gradient, the loss's own exception where it raises."""
    logits = torch.linspace(-3, 3, 8, requires_grad=True) * 1   # not a leaf, which torch would not let change
    args = (logits,) if role == P.GENERATOR else (logits, logits.flip(0))
    versions = [a._version for a in args]   # torch counts each tensor's in-place changes
    value = loss(*args)
    if [a._version for a in args] != versions:
        raise KitError("changes its argument in place: a loss reads D's logits, it does not write them (work on a "
                       "copy, x = x.clone(), or out of place: x = x * 2, not x.mul_(2))")
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
        raise KitError(f"returns {type(value).__name__}{shape}: expected a scalar tensor (reduce over the batch, "
                       "e.g. .mean())")
    if not value.requires_grad:
        raise KitError("has no gradient with respect to the logits: compute it with torch operations on them "
                       "(no .item(), numpy or .detach())")
    return value


def refuse_another_role(loss, role: str, hint: str | None = None) -> None:
    """A loss that cannot take its role's arguments (a D loss checked as G's) is one line, not the same
    TypeError in every property's row (or a bare TypeError in training). hint: how to give it its role
    (check-loss: --role ROLE; training: the other field)."""
    try:
        signature = inspect.signature(loss)
    except (TypeError, ValueError):   # a builtin or C function without one: the properties will tell
        return
    try:
        signature.bind(*range(2 if role == P.DISCRIMINATOR else 1))
    except TypeError:
        other = P.GENERATOR if role == P.DISCRIMINATOR else P.DISCRIMINATOR
        name = getattr(loss, "__name__", "the loss")
        raise KitError(f"{name}{signature} cannot be called as a {role} loss, {CALLS[role]}: a {other} loss is "
                       f"{CALLS[other]} ({hint or f'--role {other}'})") from None


def check_loss_apart(spec: str, role: str, optimum: str | None = None, examples: int | None = None,
                     timeout: float = DEFAULT_TIMEOUT_S) -> Report:
    """check_loss on the loss `spec` names (as load_loss takes it), loaded and checked in a child process
    that is stopped after `timeout` seconds; what `gandiag check-loss` runs.

    A process, not a thread: a Python thread cannot be stopped, so a loss that never returns would keep
    the caller from ending, and a loss or module that calls sys.exit (or os._exit, or crashes) would end
    the caller with it, with exit code 0. Whatever the child does, the caller gets a Report or a
    one-line KitError. The child is spawned (not forked: torch's threads do not survive a fork), which
    costs its imports, about 2 s."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_check_in_child, args=(send, spec, role, optimum, examples), daemon=True)
    child.start()
    send.close()   # the child holds the only sending end: its end, however it comes, is an EOF here
    try:
        if not receive.poll(timeout):
            raise KitError(f"{spec} did not return within {timeout:g} s (the check was stopped): a loss that "
                           "never returns? if it is only slow, give it longer with --timeout")
        kind, payload = receive.recv()
    except EOFError:
        child.join()
        raise KitError(f"{spec} ended the check's process (exit code {child.exitcode}) before the check "
                       "finished: a loss returns a scalar tensor, it does not exit or crash") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if kind == "error":
        raise KitError(payload)
    return payload


def _check_in_child(send, spec: str, role: str, optimum: str | None, examples: int | None) -> None:
    try:
        message = ("report", check_loss(load_loss(spec), role, optimum, examples))
    except KitError as e:
        message = ("error", str(e))
    except SystemExit as e:   # sys.exit in the loss or its module: no value, and no failure either
        message = ("error", f"{spec} called sys.exit({e.code!r}) instead of returning a value: a loss returns "
                            "a scalar tensor")
    except BaseException as e:   # KeyboardInterrupt and the like raised by the user's code
        message = ("error", f"{spec} raised {type(e).__name__}{f': {e}' if str(e) else ''}: a loss returns a "
                            "scalar tensor")
    send.send(message)
    send.close()


def _profile(g_loss) -> str:
    try:
        return P.saturation_profile(g_loss)
    except Exception as e:  # the table already shows the loss raising; the profile just stays unknown
        return f"unknown (the loss raised {type(e).__name__})"


def load_loss(spec: str):
    """The function named by "module:function" (the current directory is importable) or
    "path/to/file.py:function". Raises KitError with a one-line reason."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise KitError(f"{spec!r} does not name a function: write MODULE:FUNCTION or FILE.py:FUNCTION, "
                       "e.g. examples/my_loss.py:g_loss")
    try:
        module = _import(target)
    except KitError:
        raise
    except Exception as e:  # anything the user's module raises on import, shown in one line
        raise KitError(f"cannot import {target!r}: {type(e).__name__}: {e}") from None
    except SystemExit as e:   # a module that exits on import would end the caller, with its exit code
        raise KitError(f"cannot import {target!r}: it calls sys.exit({e.code!r}) when imported") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise KitError(f"{target!r} has no function {name!r}: check the name after the colon")
    return fn


def _import(target: str):
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            where = "" if path.is_absolute() else f" in {Path.cwd()}"
            raise KitError(f"no file {target!r}{where}: give the path to a .py file")
        return _run_file(path.resolve())
    with _importable(Path.cwd()):
        return importlib.import_module(target)


def _run_file(path: Path):
    """The module the file at `path` defines, run as Python runs a script: the modules beside it importable
    (at its top level; a function importing them on each call would not find them). The process is left
    as it was, sys.path and sys.modules: registered under the file's bare name, or with its folder left on
    sys.path, a loss file or neighbour called random.py or losses.py would stand in for that module for the
    rest of the caller's process. (Workers load the loss again from the spec, so nothing needs it there.)"""
    # a name no module has, so that the file's imports cannot find it in place of a real one while it runs
    name = f"_gandiag_loss_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[name] = module   # dataclasses look the module of a class up here while the file runs
    try:
        with _importable(path.parent):
            spec.loader.exec_module(module)
    finally:
        for new in set(sys.modules) - before:   # the file itself and the neighbours it imported
            if new == name or _found_in(sys.modules[new], path.parent):
                del sys.modules[new]
    return module


def _found_in(module, folder: Path) -> bool:
    """Whether `module` was imported through `folder` on sys.path: it is folder/NAME.py (or an extension)
    or inside folder/NAME/; not a library installed below it (folder/.venv/...), which stays imported."""
    file = getattr(module, "__file__", None)
    top = module.__name__.partition(".")[0]
    try:
        first = Path(file).relative_to(folder).parts[0] if file else None
    except ValueError:
        return False
    return first is not None and (first == top or first.partition(".")[0] == top)


@contextmanager
def _importable(folder: Path):
    """sys.path with `folder` first for the block, then as it was (but for what the user's code changed)."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)
