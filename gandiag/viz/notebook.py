"""gandiag.show: the report viewer (or the animation) inline in a Jupyter notebook.

IPython is imported only when show() is called inside it; elsewhere show() returns an object whose
`html` is the page (and which any front end that knows `_repr_html_` displays), so importing gandiag
never needs IPython.
"""
from __future__ import annotations

import base64
import numbers
import os
import sys
import tempfile
from html import escape
from pathlib import Path

from .source import VizError, runs_named

#: height of the inline viewer; the page scrolls inside it
IFRAME_HEIGHT = 900
#: what show(..., what="animation") passes on to animate_run (it writes no file of its own: no out)
ANIMATION_OPTIONS = ("fmt", "fps", "dpi", "size", "layers", "max_frames")


class Inline:
    """Something a notebook shows as HTML: the viewer in an iframe (its script runs in a page of its
    own, apart from the notebook's), or an animation as an <img>."""

    def __init__(self, html: str):
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


def show(runs, what: str = "viewer", labels: list[str] | None = None, height: int | None = None, **options):
    """Show a run (or a list of runs side by side) in a notebook: what="viewer" is the interactive
    report (as `gandiag report`; labels, and the iframe's height in pixels), what="animation" the GIF
    (ANIMATION_OPTIONS, as `gandiag animate`). In IPython it is displayed at once and None returned;
    elsewhere the Inline object is returned."""
    takes = {"viewer": ("labels", "height"), "animation": ANIMATION_OPTIONS}
    if what not in takes:
        raise VizError(f"show(what={what!r}): choose 'viewer' or 'animation'")
    given = [*options, *(["labels"] if labels is not None else []), *(["height"] if height is not None else [])]
    unknown = [k for k in given if k not in takes[what]]
    if unknown:   # the viewer took size=, fps=, ... (and the animation labels=) and drew what it always draws
        raise VizError(f"show(what={what!r}) has no option {', '.join(unknown)}: it takes {', '.join(takes[what])}")
    if isinstance(labels, str):   # one run's label: iterated, it was one label per character
        labels = [labels]
    folders = runs_named(run_folders(runs))
    if what == "viewer":
        # int() failed on 'big' as a bare ValueError and cut 400.7 to 400; 0 or below hid the viewer
        if height is not None and (isinstance(height, bool) or not isinstance(height, numbers.Integral)
                                   or height < 1):
            raise VizError(f"show(height={height!r}): give the viewer's height in pixels, a whole number >= 1")
        from .report import report_html
        page = report_html(folders, labels)
        inline = Inline(f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;'
                        f'height:{IFRAME_HEIGHT if height is None else height}px;'
                        'border:1px solid #ddd" sandbox="allow-scripts allow-downloads"></iframe>')
    else:
        if len(folders) > 1:
            raise VizError("show(..., what='animation') takes one run folder: use gandiag compare for several")
        from .animate import animate_run
        with tempfile.TemporaryDirectory() as tmp:
            # no suffix: animate_run gives the format's, and a refused fmt is not named against an --out
            # the user never gave
            path = animate_run(folders[0], out=Path(tmp) / "animation", **options)
            data = base64.b64encode(path.read_bytes()).decode("ascii")
        inline = Inline(f'<img alt="training animation" src="data:image/gif;base64,{data}">' if path.suffix == ".gif"
                        else f'<video controls loop src="data:video/mp4;base64,{data}"></video>')
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return inline
    from IPython.display import HTML, display
    display(HTML(inline.html))
    return None


def run_folders(runs) -> list:
    """The run folders `runs` names: one folder (a str or path) or an iterable of them."""
    if isinstance(runs, (str, os.PathLike)):
        return [runs]
    # an int or None failed in iter() and [] in the viewer's indexing, far from the call that gave them
    try:
        folders = list(runs)
    except TypeError:
        folders = None
    if not folders or not all(isinstance(f, (str, os.PathLike)) for f in folders):
        raise VizError(f"show({runs!r:.80}): give a run folder (a str or Path) or a list of them")
    return folders
