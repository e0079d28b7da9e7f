"""gandiag: make GAN training failures visible and measurable.

The Python API mirrors the CLI:

    import gandiag
    cfg = gandiag.load_config("ring8", unrolled=10, steps=5000)
    # or record your own training loop into a run folder (docs/own-loop.md):
    # with gandiag.Recorder("runs/mine", target=gandiag.target("ring8")) as rec: rec.log(step, d_loss=...)
    result = gandiag.run(cfg, "runs/ring8-unrolled10")
    run = gandiag.load_run(result.path)       # RunReader: config, metrics rows, snapshots
    analysis, verdicts = gandiag.analyze(result.path)
    gif = gandiag.animate(result.path)
    gandiag.show(result.path)                 # in a notebook: the report viewer inline
"""
__version__ = "0.1.0"

from .config import Config, ConfigError, load_config, make_config  # noqa: E402


def run(cfg: Config, out=None, quiet: bool = True):
    """Train a run into `out` and return its RunResult (path, status, step, last metrics row)."""
    if not isinstance(cfg, Config):   # a scenario name or a dict failed deep in the trainer: no attribute 'device'
        raise TypeError(f"gandiag.run takes a Config, not {type(cfg).__name__} {cfg!r:.60}: make one with "
                        "gandiag.load_config(SCENARIO, **settings), or gandiag.make_config(settings) from a dict")
    from .train import run as _run
    return _run(cfg, out, quiet=quiet)


def resume(path, steps: int | None = None, quiet: bool = True):
    """Continue a run from its newest checkpoint to `steps` in total."""
    _one_run(path, "resume", "gandiag resume {} continues all of them")
    from .train import resume as _resume
    return _resume(path, steps, quiet=quiet)


def target(spec, modes: int | None = None, **options):
    """A target to train and measure against: a scenario name or TOML path, an (N, 2) array of your own
    points, or a .npy / .csv file of them (modes=K: K modes fitted by k-means)."""
    from .targets import target as _target
    return _target(spec, modes, **options)


def load_run(path):
    """The run folder at `path`, to read: RunReader (record, config, metrics(), series(key), snapshot(step))."""
    _one_run(path, "load_run")
    from .record.folder import RunReader
    return RunReader(path)


def _one_run(path, call: str, cli: str | None = None) -> None:
    """Refuse a folder of runs (a --seeds pass) in one line naming them: read as a run, it was 'not a gandiag
    run folder (no config.json): give the folder that `gandiag run` printed', which is the folder it printed."""
    from pathlib import Path

    from .record import RunError, run_folders_in
    runs = run_folders_in(path)
    if runs:
        named = ", ".join(p.name for p in runs[:3]) + (", ..." if len(runs) > 3 else "")
        raise RunError(f"{path} holds {len(runs)} run folders ({named}), not one run: gandiag.{call} takes one of "
                       f"them, e.g. gandiag.{call}({str(Path(path) / runs[0].name)!r})"
                       + (f" (on the command line, {cli.format(path)})" if cli else ""))


def __getattr__(name):
    # the Recorder needs torch: imported when asked for, so `import gandiag` stays light
    if name == "Recorder":
        from .record.recorder import Recorder
        return Recorder
    raise AttributeError(f"module 'gandiag' has no attribute {name!r}")


def analyze(path):
    """(analysis dict, verdicts) of a run folder; also writes analysis.json and diagnosis.json."""
    _one_run(path, "analyze", "gandiag analyze {} tabulates their findings")
    from .analysis import analyze_run
    return analyze_run(path)


def animate(path, **options):
    """Render a run folder's snapshots into RUN/animation.gif (options as `gandiag animate`)."""
    from .viz.animate import animate_run
    return animate_run(path, **options)


def show(runs, what: str = "viewer", **options):
    """In a notebook, show a run (or a list of runs side by side) inline: the report viewer, or with
    what="animation" the GIF. Outside IPython it returns an object whose .html is the page."""
    from .viz.notebook import show as _show
    return _show(runs, what, **options)


__all__ = ["analyze", "animate", "Config", "ConfigError", "load_config", "make_config", "load_run", "Recorder", "run",
           "resume", "show", "target", "__version__"]
