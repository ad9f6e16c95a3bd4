"""Charts as standalone SVG: grouped bars with axis, ticks and a legend.

Drawn by hand (no plotting library) so e-mails and documents get the same
image the dashboard shows, with no dependency and no script. Text is escaped;
the SVG carries its own fonts and colours so it renders alike everywhere.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from .registry import Chart, Result

PALETTE = ("#2f6db5", "#e0873a", "#4a9a5b", "#b54a4a", "#7a5cb0")
WIDTH, HEIGHT = 760, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 48, 96


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name", ""))
    return "(none)" if value is None else str(value)


def _nice_max(value: float) -> tuple[float, float]:
    """An axis maximum and tick step that read well (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step), step


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def render_svg(
    title: str, chart: Chart, result: Result, *, no_data: str = "No data for this period"
) -> str:
    table = result.table(chart.table)
    labels = {c.key: c.label for c in table.columns}
    rows = table.rows[:40]  # a readable chart; the table has them all
    series = list(chart.values)
    values = [[float(row.get(key) or 0) for key in series] for row in rows]
    peak, step = _nice_max(max((v for vs in values for v in vs), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold" fill="#222">'
        f"{escape(chart.title or title)}</text>",
    ]
    ticks = round(peak / step)
    for i in range(ticks + 1):
        value = step * i
        y = TOP + plot_h - plot_h * value / peak
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#e2e2e2"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#555">{_number(value)}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#888"/>'
    )
    if rows:
        slot = plot_w / len(rows)
        bar = max(1.0, slot * 0.8 / len(series))
        for index, (row, row_values) in enumerate(zip(rows, values, strict=True)):
            x0 = LEFT + slot * index + slot * 0.1
            for s, value in enumerate(row_values):
                height = plot_h * value / peak
                out.append(
                    f'<rect x="{x0 + bar * s:.1f}" y="{TOP + plot_h - height:.1f}" '
                    f'width="{bar:.1f}" height="{height:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                    f"<title>{escape(_label(row.get(chart.label)))}: "
                    f"{escape(labels.get(series[s], series[s]))} {_number(value)}</title></rect>"
                )
            cx = LEFT + slot * index + slot / 2
            text = _label(row.get(chart.label))
            text = text if len(text) <= 18 else text[:17] + "…"
            out.append(
                f'<text transform="translate({cx:.1f},{TOP + plot_h + 12}) rotate(35)" '
                f'fill="#333">{escape(text)}</text>'
            )
    else:
        out.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
            f'fill="#777">{escape(no_data)}</text>'
        )
    x = LEFT
    for s, key in enumerate(series):
        name = labels.get(key, key)
        out.append(
            f'<rect x="{x}" y="30" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="39" fill="#333">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)
