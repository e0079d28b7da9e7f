"""gandiag's command line: a thin click group over the library.

Every option of `run` is generated from a field of gandiag.config.Config, so the CLI, the scenario
files and the Python API share one defaults table. Library errors become one-line messages here.
"""
import sys
import typing

import click

from gandiag import config as C

#: library exceptions that mean "the user gave something wrong": printed as one line, exit 2
USER_ERRORS = (C.ConfigError, FileNotFoundError)


class Group(click.Group):
    """Turns user errors from the library into one line and a non-zero exit (--debug: full traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except USER_ERRORS + _run_errors() as e:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(e)) from None


def _run_errors():
    from gandiag.train import RunError
    return (RunError,)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="gandiag")
def main(debug):
    """gandiag: make GAN training failures visible and measurable."""


def config_options(command):
    """One click option per Config field (scenario values win over defaults, flags over both)."""
    hints = typing.get_type_hints(C.Config)
    for name, f in reversed(list(C.FIELDS.items())):
        meta = f.metadata
        if not meta["cli"]:
            continue
        flag, kind, default = name.replace("_", "-"), hints[name], C.DEFAULTS[name]
        shown = ",".join(map(str, default)) if kind is tuple else str(default).lower() if kind is bool else str(default)
        # default None keeps "not given" apart from a value, so scenario values survive; the help shows
        # the defaults table's value (click would bracket a string show_default as a description).
        common = dict(default=None, help=f"{meta['help']}  [default: {shown or 'none'}]")
        if kind is bool:
            opt = click.option(f"--{flag}/--no-{flag}", name, **common)
        elif meta["choices"]:
            opt = click.option(f"--{flag}", name, type=click.Choice(meta["choices"]), **common)
        else:
            opt = click.option(f"--{flag}", name, type={tuple: str}.get(kind, kind), **common)
        command = opt(command)
    return command


def overrides(params: dict) -> dict:
    return {k: v for k, v in params.items() if k in C.FIELDS and v is not None}


@main.command()
@click.argument("scenario")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder.  [default: runs/<scenario>-<method>-<time>]")
@click.option("--quiet", is_flag=True, help="No progress line and no summary (for scripts).")
@click.option("--animate/--no-animate", "animate", default=True, show_default=True,
              help="Render animation.gif when the run ends.")
@config_options
def run(scenario, out, quiet, animate, **params):
    """Train a GAN on SCENARIO (a name from `gandiag scenarios` or a .toml path)."""
    from gandiag.train import run as train
    cfg = C.load_config(scenario, **overrides(params))
    result = train(cfg, out, quiet=quiet, on_row=_live_warnings())
    finish(result, quiet, animate)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--steps", type=int, default=None, help="Total steps to reach (not extra).  [default: the run's]")
@click.option("--quiet", is_flag=True, help="No progress line and no summary.")
@click.option("--animate/--no-animate", "animate", default=True, show_default=True,
              help="Render animation.gif when the run ends.")
def resume(run_dir, steps, quiet, animate):
    """Continue RUN from its newest checkpoint up to --steps in total."""
    from gandiag.train import resume as resume_run
    finish(resume_run(run_dir, steps, quiet=quiet, on_row=_live_warnings()), quiet, animate)


def _live_warnings():
    """The analyzer's live rule check, when it is installed, as the loop's per-row callback."""
    try:
        from gandiag.analyze import live_warnings
    except ImportError:
        return None
    return live_warnings()


def finish(result, quiet: bool, animate: bool) -> None:
    """Summary, optional animation and the exit code for a finished, diverged or interrupted run."""
    from gandiag import record as R
    from gandiag.train import EXIT_DIVERGED, EXIT_INTERRUPTED
    last = result.last
    if result.status == R.FINISHED and animate:
        from gandiag.viz.animate import animate_run
        animate_run(result.path)
    if not quiet or result.status != R.FINISHED:
        counts = last.get(R.MODE_COUNTS) or []
        click.echo(f"{result.status} at step {result.step}: modes {last.get(R.MODES)}/{len(counts)} "
                   f"(strict {last.get(R.MODES_STRICT)}), high quality {100 * (last.get(R.HQ) or 0):.1f} %, "
                   f"reverse KL {last.get(R.REVERSE_KL, float('nan')):.3f}", err=result.status != R.FINISHED)
        click.echo(f"run folder: {result.path}")
    if result.status == R.DIVERGED:
        click.echo(f"the run diverged (non-finite values) at step {result.step}; everything up to it is kept. "
                   "Try a smaller learning rate.", err=True)
        sys.exit(EXIT_DIVERGED)
    if result.status == R.INTERRUPTED:
        click.echo(f"interrupted: checkpoint saved at step {result.step}. Continue with: gandiag resume {result.path}",
                   err=True)
        sys.exit(EXIT_INTERRUPTED)
    if not quiet:
        click.echo(f"next: gandiag analyze {result.path}   |   gandiag report {result.path}")


@main.command()
def scenarios():
    """List the shipped scenarios with their key settings."""
    for name in C.scenario_names():
        cfg = C.load_config(name)
        click.echo(f"{name:<20} {cfg.description}")
        click.echo(f"{'':<20} data={cfg.data} modes={cfg.modes} loss={cfg.loss} batch={cfg.batch} "
                   f"steps={cfg.steps} d_lr={cfg.d_lr:g} g_lr={cfg.g_lr:g}")


# -- commands are registered above this line --


if __name__ == "__main__":
    main()
