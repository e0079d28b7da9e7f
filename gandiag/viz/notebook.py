"""gandiag.show: the report viewer (or the animation) inline in a Jupyter notebook.

IPython is imported only when show() is called inside it; elsewhere show() returns an object whose
`html` is the page (and which any front end that knows `_repr_html_` displays), so importing gandiag
never needs IPython.
"""
from __future__ import annotations

import base64
import sys
import tempfile
from html import escape
from pathlib import Path

from .source import VizError

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
    if what == "viewer":
        from .report import report_html
        page = report_html([runs] if isinstance(runs, (str, Path)) else list(runs), labels)
        inline = Inline(f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;'
                        f'height:{int(IFRAME_HEIGHT if height is None else height)}px;'
                        'border:1px solid #ddd" sandbox="allow-scripts allow-downloads"></iframe>')
    else:
        if not isinstance(runs, (str, Path)):
            raise VizError("show(..., what='animation') takes one run folder: use gandiag compare for several")
        from .animate import animate_run
        with tempfile.TemporaryDirectory() as tmp:
            fmt = options.pop("fmt", "gif")
            path = animate_run(runs, fmt, out=Path(tmp) / f"animation.{fmt}", **options)
            data = base64.b64encode(path.read_bytes()).decode("ascii")
        inline = Inline(f'<img alt="training animation" src="data:image/gif;base64,{data}">' if fmt == "gif" else
                        f'<video controls loop src="data:video/mp4;base64,{data}"></video>')
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return inline
    from IPython.display import HTML, display
    display(HTML(inline.html))
    return None
