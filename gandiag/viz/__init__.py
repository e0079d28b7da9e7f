"""Pictures of a run folder, read through gandiag.record only (never from training code):

    source    the run as pictures see it (RunView), frame steps, step alignment
    describe  the run in words: command line, settings vs defaults, labels, verdict sentences
    panels    D heatmap + contours + fakes (off-window ones marked) + arrows + manifold, histograms, curves
    frames    one frame -> RGB array (figure built once, artists updated per frame)
    animate   animate_run: RUN/animation.gif or .mp4 (imageio-ffmpeg's ffmpeg)
    compare   compare_runs: side-by-side GIF, overlaid curves, metrics table
    figures   write_figure: snapshot strip + curves at a print size, as PNG, PDF, SVG
    report    write_report: the interactive viewer in one offline HTML file (viewer.js, viewer.css)
    notebook  show: the viewer or the animation inline in a notebook

The defaults below live here so the CLI can show them without importing matplotlib.
"""
DEFAULT_FPS = 10
DEFAULT_DPI = 100
DEFAULT_SIZE = (800, 450)           # pixels per run panel
DEFAULT_MAX_FRAMES = 200            # longer runs are thinned evenly (first and last kept)
MIN_DPI = 20                        # below it a frame's text is a few pixels high
MAX_DPI = 2400                      # finer than any printer; a page at it is 17,000 pixels wide
#: the largest picture drawn: matplotlib's Agg canvas refuses 2^16 pixels in either direction, and an
#: RGBA buffer of 2^28 pixels is 1 GB
MAX_SIDE_PX, MAX_PIXELS = 2 ** 16 - 1, 2 ** 28
FIGURE_DPI = 200                    # PNG resolution of static figures (PDF and SVG are vector)
STRIP_LAYERS = "heatmap,density,fakes,manifold"  # a figure's panels (arrows crowd a small panel)
