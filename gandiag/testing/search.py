"""The search behind every property: hypothesis looks for an input that breaks it, then shrinks it.

A property is a strategy of inputs plus a `violation(example)` that returns None when the property
holds on that input, a one-line description when it does not, and NOT_FINITE where the loss or its
gradient is not finite there (finite_value_and_gradient's defect, reported once, under its name).
`falsify` turns the pair into a Result: passed, or failed with the smallest counterexample hypothesis
could shrink to; a property that had no finite input at all was never checked, and fails saying so.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass

from hypothesis import Phase, find, settings
from hypothesis.errors import NoSuchExample

#: a violation's answer where the loss or its gradient is not finite: no verdict on that input
NOT_FINITE = "the loss or its gradient is not finite here"

#: The hypothesis settings searches run under; None means the loaded profile (`settings()`).
_SETTINGS: contextvars.ContextVar[settings | None] = contextvars.ContextVar("gandiag_settings", default=None)


@dataclass(frozen=True)
class Result:
    """One property's outcome: the shrunk counterexample and what went wrong on it, when it failed."""

    name: str
    passed: bool
    counterexample: str = ""
    detail: str = ""

    def raise_if_failed(self) -> None:
        """For pytest: an AssertionError naming the property and its counterexample."""
        __tracebackhide__ = True  # pytest shows the caller's line, not this one
        if not self.passed:
            raise AssertionError(f"{self.name} fails on {self.counterexample}: {self.detail}")


def register_profiles() -> None:
    """Register hypothesis profiles "dev" (fast: few examples), "ci" (thorough) and "explore" (many
    examples, new ones every run, to look for what the fixed ones miss). dev and ci are derandomized: a
    suite, CI and `gandiag check-loss` give the same answer on every run and machine, where a random draw
    once failed one CI run in several. None has a deadline: the first torch call in a process can outlast
    any per-example limit and fail a property for the wrong reason."""
    settings.register_profile("dev", max_examples=10, deadline=None, derandomize=True)
    settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True)
    # every setting given: a profile registered without a parent inherits the loaded one (dev, derandomized)
    settings.register_profile("explore", max_examples=300, deadline=None, derandomize=False)


@contextlib.contextmanager
def searching_with(profile: settings):
    """Run the searches inside the block under `profile` without loading it globally."""
    token = _SETTINGS.set(profile)
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def show(value) -> str:
    """A short, readable rendering of an example: floats at float32 precision, dicts as k=v."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def falsify(name: str, strategy, violation) -> Result:
    """Search `strategy` for an example on which `violation` reports something; shrink it if found."""

    verdicts = 0   # inputs where the property was checked: those on which the loss was finite

    def broken(example) -> str | None:
        nonlocal verdicts
        try:
            found = violation(example)
        except Exception as e:  # a loss that raises on some input breaks the property there
            return f"raised {type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
        if found is NOT_FINITE:
            return None
        verdicts += 1
        return found

    # No example database: the kit is also run on users' losses from any directory, and a stored
    # example keyed by this closure's source would be replayed against every other loss. No explain
    # phase: find() never shows its notes, and it costs ten times the shrinking itself.
    search = settings(_SETTINGS.get() or settings(), database=None,
                      phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    try:
        example = find(strategy, lambda ex: broken(ex) is not None, settings=search)
    except NoSuchExample:
        if not verdicts:   # a pass here would be a test that could not fail
            return Result(name, False, "every input tried", "never checked: " + NOT_FINITE.replace(" here", "")
                          + " on any of them (finite_value_and_gradient)")
        return Result(name, True)
    return Result(name, False, show(example), broken(example))


def prop(fn):
    """Decorator: `fn(...)` returns (strategy, violation); the decorated call returns a Result named fn."""

    @functools.wraps(fn)
    def check(*args, **kwargs) -> Result:
        strategy, violation = fn(*args, **kwargs)
        return falsify(fn.__name__, strategy, violation)

    return check
