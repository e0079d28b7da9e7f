"""gandiag: make GAN training failures visible and measurable.

The Python API mirrors the CLI:

    import gandiag
    cfg = gandiag.load_config("ring8", unrolled=10, steps=5000)
    result = gandiag.run(cfg, "runs/ring8-unrolled10")
    run = gandiag.load_run(result.path)       # RunReader: config, metrics rows, snapshots
    analysis, verdicts = gandiag.analyze(result.path)
    gif = gandiag.animate(result.path)
"""
__version__ = "0.1.0"

from .config import Config, ConfigError, load_config, make_config  # noqa: E402
from .record import RunReader as load_run  # noqa: E402


def run(cfg: Config, out=None, quiet: bool = True):
    """Train a run into `out` and return its RunResult (path, status, step, last metrics row)."""
    from .train import run as _run
    return _run(cfg, out, quiet=quiet)


def resume(path, steps: int | None = None, quiet: bool = True):
    """Continue a run from its newest checkpoint to `steps` in total."""
    from .train import resume as _resume
    return _resume(path, steps, quiet=quiet)


def analyze(path):
    """(analysis dict, verdicts) of a run folder; also writes analysis.json and diagnosis.json."""
    from .analyze import analyze_run
    return analyze_run(path)


def animate(path, **options):
    """Render a run folder's snapshots into RUN/animation.gif (options as `gandiag animate`)."""
    from .viz.animate import animate_run
    return animate_run(path, **options)


__all__ = ["analyze", "animate", "Config", "ConfigError", "load_config", "make_config", "load_run", "run", "resume", "__version__"]
