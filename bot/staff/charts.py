"""Charts drawn on the server as SVG: no JavaScript, no CDN, readable offline and when printed.

Each chart has a title and a description for screen readers (``role="img"``); the pages also show
the same numbers as a table, so nothing is only in a picture.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

BAR = "#005eb8"  # NHS blue on white: contrast 6.5:1
TEXT = "#212b32"


def bars(title: str, items: list[tuple[str, int]], width: int = 640, height: int = 180) -> Markup:
    """A vertical bar chart of ``items`` (label, value), labelled at the start, middle and end."""
    top = max((v for _, v in items), default=0) or 1
    step = width / max(len(items), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 24}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        h = round(height * value / top)
        x = round(i * step + step * 0.1, 1)
        parts.append(
            f'<rect x="{x}" y="{height - h}" width="{round(step * 0.8, 1)}" height="{h}" fill="{BAR}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i in (0, len(items) // 2, len(items) - 1):
            anchor = "end" if i == len(items) - 1 and i else "start"
            at = round(x + step * 0.8, 1) if anchor == "end" else x
            parts.append(
                f'<text x="{at}" y="{height + 16}" font-size="12" text-anchor="{anchor}" '
                f'fill="{TEXT}">{escape(label)}</text>'
            )
    parts.append(f'<text x="2" y="12" font-size="12" fill="{TEXT}">highest: {top}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_map(title: str, rows: list[str], grid: list[list[int]]) -> Markup:
    """Day of week × hour: darker is more. Office hours (Mon–Fri 9–5) are outlined."""
    cell, left, top = 22, 40, 18
    peak = max((v for row in grid for v in row), default=0) or 1
    width, height = left + 24 * cell, top + len(rows) * cell
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for hour in range(0, 24, 3):
        parts.append(
            f'<text x="{left + hour * cell + 2}" y="12" font-size="11" fill="{TEXT}">{hour:02d}</text>'
        )
    for r, (name, row) in enumerate(zip(rows, grid, strict=True)):
        y = top + r * cell
        parts.append(f'<text x="0" y="{y + 15}" font-size="12" fill="{TEXT}">{escape(name)}</text>')
        for hour, value in enumerate(row):
            shade = 0.08 + 0.92 * value / peak if value else 0.0
            parts.append(
                f'<rect x="{left + hour * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{BAR}" fill-opacity="{shade:.2f}" stroke="#d8dde0">'
                f"<title>{escape(name)} {hour:02d}:00: {value}</title></rect>"
            )
    parts.append(
        f'<rect x="{left + 9 * cell - 1}" y="{top - 1}" width="{8 * cell}" height="{5 * cell}" '
        f'fill="none" stroke="{TEXT}" stroke-width="2" stroke-dasharray="4 3"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
