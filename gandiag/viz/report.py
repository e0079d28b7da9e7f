"""One self-contained report.html per run: the animation, the figure, the metric table, the diagnosis
and the configuration. Pictures are inline data: URIs and the style sheet is inline, so the page
opens in any browser with no network and can be mailed as one file."""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from .. import record as R
from . import style
from .animate import animate_run
from .figures import png_bytes, strip_figure
from .source import RunView, read_diagnosis
from .table import fmt, metrics_table

CSS = """
body { font-family: "DejaVu Sans", Verdana, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
img { max-width: 100%; } table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f2f2f2; } dt { font-weight: bold; } dd { margin: 0 0 0.4em 1.5em; }
h3 { font-size: 1em; margin-bottom: 0.2em; }
.muted { color: #666; }
"""


@style.styled
def write_report(run_dir) -> Path:
    """RUN/report.html; renders RUN/animation.gif first unless an up-to-date one is there."""
    view = RunView(run_dir)
    gif = view.root / "animation.gif"
    if not _up_to_date(gif, view):
        gif = animate_run(view.root)
    header, rows = metrics_table([view], [view.root.name])
    status = view.reader.status.get("status", "unknown")
    sections = [
        f"<h1>{escape(view.title())}</h1>",
        f"<p class=muted>run folder {escape(view.root.name)} · status {escape(str(status))} · "
        f"last step {view.last_step:,} · {len(view.steps)} snapshots</p>",
        "<h2>Diagnosis</h2>", _diagnosis(read_diagnosis(view.root)),
        "<h2>Animation</h2>", _img("image/gif", gif.read_bytes(), "training animation"),
        "<h2>Snapshots and metrics</h2>", _img("image/png", png_bytes(strip_figure(view)), "snapshot strip"),
        "<h2>Metrics over time</h2>", _table(header[:1] + header[2:], [r[:1] + r[2:] for r in rows]),
        "<h2>Configuration</h2>", _table(["setting", "value"], sorted(view.config.items())),
    ]
    page = ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>gandiag report: {escape(view.root.name)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(sections) + "\n</body></html>\n")
    out = view.root / "report.html"
    R.atomic_write_bytes(out, page.encode("utf-8"))
    return out


def _up_to_date(gif: Path, view: RunView) -> bool:
    """An animation written after the newest snapshot shows everything there is."""
    newest = view.root / R.SNAPSHOT_DIR / R.snapshot_name(view.steps[-1])
    return gif.is_file() and gif.stat().st_mtime >= newest.stat().st_mtime


def _img(mime: str, data: bytes, alt: str) -> str:
    return f'<img alt="{alt}" src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">'


def _table(header: list[str], rows) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(v) if not isinstance(v, (list, tuple, dict)) else str(v))}</td>"
                                    for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _diagnosis(doc) -> str:
    """The analyzer's verdicts, each with its message, evidence and remedies."""
    if not isinstance(doc, dict):
        return "<p class=muted>No diagnosis yet: run <code>gandiag analyze RUN</code>, then this report again.</p>"
    verdicts = [v for v in doc.get(R.VERDICTS) or [] if isinstance(v, dict)]
    parts = [] if verdicts else ["<p>No failure found.</p>"]
    for v in verdicts:
        parts += [f"<h3>{escape(str(v.get(R.V_TITLE) or v.get(R.V_RULE)))} "
                  f"<span class=muted>({escape(str(v.get(R.V_SEVERITY, '')))})</span></h3>",
                  f"<p>{escape(str(v.get(R.V_MESSAGE, '')))}</p>",
                  "<p>Evidence:</p>" + _json_html(v.get(R.V_EVIDENCE) or {}),
                  "<p>What to try:</p>" + _json_html(list(v.get(R.V_REMEDIES) or []))]
    checked = doc.get(R.RULES_CHECKED)
    if isinstance(checked, list):
        parts.append(f"<p class=muted>Rules checked: {escape(', '.join(map(str, checked)))}.</p>")
    return "\n".join(parts)


def _json_html(value) -> str:
    """JSON as nested lists, whatever its shape (evidence differs from rule to rule)."""
    if isinstance(value, dict):
        items = "".join(f"<dt>{escape(str(k))}</dt><dd>{_json_html(v)}</dd>" for k, v in value.items())
        return f"<dl>{items}</dl>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_json_html(v)}</li>" for v in value) + "</ul>"
    return escape(fmt(value) if isinstance(value, float) else str(value))
