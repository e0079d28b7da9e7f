"""The commands that draw a run folder: animate, compare, figure, report, and export to TensorBoard."""
import click

from gandiag import viz

from . import OutPath, _wrote, count, main


#: --format's help, the command's output added
_FORMAT = "GIF, or MP4 (H.264 through the ffmpeg imageio-ffmpeg ships){}.  [default: {}]"


def _picture_options(format_help: str):
    """The options animate and compare share (defaults from gandiag.viz, which imports no plotting);
    format_help: --format's, which says what the command writes."""
    def add(command):
        for opt in reversed([
            click.option("--format", "fmt", type=click.Choice(["gif", "mp4"]), default=None,
                         help=format_help),
            click.option("--fps", type=count(1, 100), default=viz.DEFAULT_FPS, show_default=True,
                         help="Frames per second (a GIF: at most 50, as browsers play it)."),
            click.option("--dpi", type=count(viz.MIN_DPI, viz.MAX_DPI), default=viz.DEFAULT_DPI, show_default=True,
                         help="Dots per inch: scales fonts and lines within the frame size."),
            click.option("--size", default="{}x{}".format(*viz.DEFAULT_SIZE), show_default=True,
                         help="Frame size in pixels, WIDTHxHEIGHT (per run for compare)."),
            click.option("--layers", default=None, help="Layers to show, e.g. heatmap,fakes; or to drop, e.g. "
                         "-arrows,-manifold. Toy: heatmap, density, fakes, arrows, manifold, bars, curves, title; "
                         "image runs: samples, classes, curves, title.  [default: all]"),
            click.option("--max-frames", type=count(), default=viz.DEFAULT_MAX_FRAMES,
                         show_default=True, help="Thin longer runs evenly to this many frames."),
        ]):
            command = opt(command)
        return command
    return add


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--out", type=OutPath(dir_okay=False), default=None,
              help="File to write (.gif or .mp4; without a suffix, the format's is added).  "
                   "[default: RUN/animation.gif]")
@_picture_options(_FORMAT.format("", "--out's suffix, else gif"))
def animate(run_dir, out, fmt, fps, dpi, size, layers, max_frames):
    """Render RUN's snapshots into an animation (RUN/animation.gif unless --out says otherwise)."""
    from gandiag.viz.animate import animate_run
    from gandiag.viz.frames import parse_size
    _wrote([animate_run(run_dir, fmt, fps, dpi, parse_size(size), layers, max_frames, out)])


def _labels(text):
    return [s.strip() for s in text.split(",")] if text else None


_LABELS = click.option("--labels", default=None,
                       help='Names of the runs, comma-separated, e.g. "vanilla,unrolled K=10".  '
                            "[default: what differs between them]")


@main.command()
@click.argument("run_dirs", metavar="RUN_A RUN_B [RUN ...]", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=OutPath(file_okay=False), required=True, help="Folder for the comparison files.")
@_LABELS
@_picture_options(_FORMAT.format(": OUT/compare.gif or OUT/compare.mp4", "gif"))
def compare(run_dirs, out, labels, fmt, fps, dpi, size, layers, max_frames):
    """Runs side by side: a synchronized animation, overlaid metric curves and a metrics table."""
    from gandiag.viz.compare import compare_runs
    from gandiag.viz.frames import parse_size
    _wrote(compare_runs(run_dirs, out, fmt or "gif", fps, dpi, parse_size(size), layers, max_frames,
                        _labels(labels)))


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--steps", default=None, help="Steps to show, e.g. 0,5000,10000 (each: the last snapshot at "
              "or before it).  [default: 6 evenly spaced snapshots]")
@click.option("--layers", default=None, help="Layers of each snapshot panel, or to drop, as for animate: heatmap, "
              f"density, fakes, arrows, manifold (image runs: samples).  [default: {viz.STRIP_LAYERS}]")
@click.option("--size", default="page", show_default=True,
              help="Print size: column (3.5 in wide), page (7 in) or WIDTHxHEIGHT in inches, e.g. 7x4. "
                   "Text is >= 7 pt at that size.")
@click.option("--dpi", type=count(viz.MIN_DPI, viz.MAX_DPI), default=viz.FIGURE_DPI, show_default=True,
              help="Resolution of the PNG (PDF and SVG are vector).")
@click.option("--out", type=OutPath(dir_okay=False), default=None,
              help="FILE.png, .pdf or .svg writes that file; a path without a suffix writes all three.  "
                   "[default: RUN/figure.png, .pdf, .svg]")
def figure(run_dir, steps, layers, size, dpi, out):
    """A strip of snapshots over the metric curves, for papers and slides."""
    from gandiag.viz.figures import parse_steps, write_figure
    _wrote(write_figure(run_dir, parse_steps(steps), layers, dpi, size, out))


@main.command()
@click.argument("run_dirs", metavar="RUN [RUN ...]", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=OutPath(dir_okay=False), default=None,
              help="HTML file to write (.html).  [default: RUN/report.html; several runs: ./report-A-vs-B.html]")
@_LABELS
def report(run_dirs, out, labels):
    """An interactive viewer in one offline HTML file: scrub through training, toggle layers, read the
    verdicts and the command that made the run. Several runs: side by side on one slider."""
    from gandiag.viz.report import write_report
    _wrote([write_report(run_dirs, out, _labels(labels))])


@main.command()
@click.argument("run_dirs", metavar="RUN [RUN ...]", nargs=-1, required=True, type=click.Path())
@click.option("--tensorboard", "tb_dir", type=OutPath(file_okay=False), required=True,
              help="Folder for the TensorBoard events (then: tensorboard --logdir DIR); several runs, or a "
                   "--seeds pass, go one per subfolder.")
@click.option("--max-frames", type=count(), default=viz.DEFAULT_MAX_FRAMES, show_default=True,
              help="Snapshot images to write at most (longer runs are thinned evenly).")
def export(run_dirs, tb_dir, max_frames):
    """Write RUN's metrics and snapshot frames as TensorBoard events (pip install 'gandiag[tensorboard]')."""
    from gandiag.export import export_runs
    for out, scalars, images in export_runs(run_dirs, tb_dir, max_frames):
        click.echo(f"wrote {scalars} scalars and {images} images to {out}")
    click.echo(f"then: tensorboard --logdir {tb_dir}")
