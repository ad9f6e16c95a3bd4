"""Root-cause artefacts drawn as SVG on the server: the Ishikawa (fishbone)
diagram, the Pareto chart and the investigation progress bar.

Plain functions from data to markup, no JavaScript and no ``style``
attributes (the CSP forbids them): shapes carry presentation attributes and
classes that ``problems.css`` colours. Every text is XML-escaped, so the
output is well-formed XML; long texts are shortened on the drawing and given
in full in a ``<title>`` (a tooltip, and what screen readers read).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

CHAR_WIDTH = 6.4  # px per character of the 12px sans-serif labels (a safe average)


def esc(value: Any) -> str:
    """Text and attribute values for XML (quotes included)."""
    return _xml_escape(str(value), {'"': "&quot;", "'": "&#39;"})


def clip(text: str, chars: int) -> str:
    text = " ".join(str(text).split())
    chars = max(4, chars)
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, cls: str = "", anchor: str = "start",
          full: str | None = None) -> str:  # fmt: skip
    title = f"<title>{esc(full)}</title>" if full is not None and full != content else ""
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}"{klass}>'
        f"{title}{esc(content)}</text>"
    )


def _svg(width: float, height: float, cls: str, label: str, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 - every text above went through esc()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {_fmt(width)} '
        f'{_fmt(height)}" width="{_fmt(width)}" height="{_fmt(height)}" role="img" '
        f'aria-label="{esc(label)}" font-size="12">'
        f"<title>{esc(label)}</title>{''.join(body)}</svg>"
    )


# ---- Ishikawa ----------------------------------------------------------------------------


def _flatten(causes: Sequence[dict[str, Any]], depth: int = 0) -> list[tuple[int, str, bool]]:
    out: list[tuple[int, str, bool]] = []
    for cause in causes:
        out.append((depth, str(cause.get("text", "")), bool(cause.get("root_cause"))))
        out.extend(_flatten(cause.get("sub_causes") or [], depth + 1))
    return out


def ishikawa(categories: Sequence[dict[str, Any]], effect: str, *, width: int = 980) -> SafeString:
    """The fishbone: the effect (the problem) in the head on the right, one bone
    per category, alternately above and below the spine, its causes (and
    sub-causes, indented) along it; root causes are marked."""
    bones = [(str(c.get("name", "")), _flatten(c.get("causes") or [])) for c in categories]
    line_h, label_h, margin, head_w = 17.0, 22.0, 12.0, 190.0
    columns = max(1, math.ceil(len(bones) / 2))
    col_w = (width - head_w - 2 * margin) / columns
    rows = max([len(lines) for _, lines in bones] or [0])
    bone_h = label_h + max(1, rows) * line_h + 10
    label_room = 24.0  # the category names beyond the bones' outer ends
    spine_y = label_room + bone_h
    height = spine_y + bone_h + label_room
    slant = min(col_w * 0.35, bone_h * 0.45)
    spine_end = width - head_w - margin
    body = [
        f'<line class="spine" x1="{_fmt(margin)}" y1="{_fmt(spine_y)}" x2="{_fmt(spine_end)}" '
        f'y2="{_fmt(spine_y)}" stroke="#1c2430" stroke-width="3"/>',
        f'<polygon class="arrow" points="{_fmt(spine_end)},{_fmt(spine_y - 7)} '
        f'{_fmt(spine_end + 12)},{_fmt(spine_y)} {_fmt(spine_end)},{_fmt(spine_y + 7)}" '
        f'fill="#1c2430"/>',
    ]
    head_x = spine_end + 14
    head_h = 96.0
    body.append(
        f'<rect class="head" x="{_fmt(head_x)}" y="{_fmt(spine_y - head_h / 2)}" '
        f'width="{_fmt(head_w - 16)}" height="{_fmt(head_h)}" rx="5" fill="#e8f0fc" '
        f'stroke="#1a56b0"/>'
    )
    per_line = int((head_w - 28) / CHAR_WIDTH)
    words, wrapped, current = effect.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > per_line:
            wrapped.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        wrapped.append(current)
    shown = wrapped[:5]
    if len(wrapped) > 5:
        shown[-1] = clip(shown[-1] + " …", per_line)
    first_y = spine_y - (len(shown) - 1) * 8 + 4
    for i, line in enumerate(shown):
        body.append(
            _text(
                head_x + (head_w - 16) / 2,
                first_y + i * 16,
                clip(line, per_line),
                "effect",
                "middle",
                effect if i == 0 else None,
            )
        )
    for index, (name, lines) in enumerate(bones):
        column, above = index // 2, index % 2 == 0
        x_spine = margin + (column + 1) * col_w - 8
        sign = -1 if above else 1
        x_end, y_end = x_spine - slant, spine_y + sign * bone_h
        body.append(
            f'<g class="bone" data-category="{esc(name)}">'
            f'<line x1="{_fmt(x_spine)}" y1="{_fmt(spine_y)}" x2="{_fmt(x_end)}" '
            f'y2="{_fmt(y_end)}" stroke="#4f5a68" stroke-width="2"/>'
        )
        label_y = y_end - 6 if above else y_end + 14
        body.append(_text(x_end, label_y, clip(name.capitalize(), int(col_w / 7.5)),
                          "category", "middle", name))  # fmt: skip
        for row, (depth, text, is_root) in enumerate(lines):
            # Causes run from the bone's outer end towards the spine.
            y = y_end - sign * (label_h + row * line_h) + (4 if above else -4)
            t = (y - spine_y) / (y_end - spine_y)
            x_bone = x_spine - slant * t
            indent = 12 * depth
            room = int((col_w - slant * t - 18 - indent) / CHAR_WIDTH)
            x_text = x_bone - 6 - indent
            body.append(
                f'<line class="twig" x1="{_fmt(x_text + 2)}" y1="{_fmt(y + 3)}" '
                f'x2="{_fmt(x_bone)}" y2="{_fmt(y + 3)}" stroke="#aab4c0"/>'
            )
            cls = "cause root-cause" if is_root else ("cause sub" if depth else "cause")
            shown_text = ("★ " if is_root else "") + text
            body.append(_text(x_text, y, clip(shown_text, room), cls, "end", text))
        body.append("</g>")
    label = _("Ishikawa diagram of %(effect)s") % {"effect": effect}
    return _svg(width, height, "ishikawa", label, body)


# ---- Pareto ------------------------------------------------------------------------------


def pareto(rows: Sequence[Any], *, title: str, width: int = 640) -> SafeString:
    """Bars of the counts, largest first, the cumulative share as a line and the
    80% threshold; the "vital few" bars are highlighted."""
    left, right, top, bottom = 40.0, 44.0, 14.0, 86.0
    plot_w, plot_h = width - left - right, 200.0
    height = top + plot_h + bottom
    peak = max([r.count for r in rows] or [1])
    slot = plot_w / max(1, len(rows))
    bar_w = max(4.0, min(56.0, slot * 0.7))
    y_of = lambda value, scale: top + plot_h - plot_h * value / scale  # noqa: E731
    body = [
        f'<line class="axis" x1="{_fmt(left)}" y1="{_fmt(top + plot_h)}" '
        f'x2="{_fmt(left + plot_w)}" y2="{_fmt(top + plot_h)}" stroke="#4f5a68"/>',
        f'<line class="axis" x1="{_fmt(left)}" y1="{_fmt(top)}" x2="{_fmt(left)}" '
        f'y2="{_fmt(top + plot_h)}" stroke="#4f5a68"/>',
        f'<line class="axis" x1="{_fmt(left + plot_w)}" y1="{_fmt(top)}" '
        f'x2="{_fmt(left + plot_w)}" y2="{_fmt(top + plot_h)}" stroke="#4f5a68"/>',
    ]
    for value in sorted({0, peak // 2, peak}):
        y = y_of(value, peak)
        body.append(_text(left - 6, y + 4, str(value), "tick", "end"))
    for share in (0, 50, 100):
        body.append(_text(left + plot_w + 6, y_of(share, 100) + 4, f"{share}%", "tick"))
    y80 = y_of(80, 100)
    body.append(
        f'<line class="threshold" x1="{_fmt(left)}" y1="{_fmt(y80)}" x2="{_fmt(left + plot_w)}" '
        f'y2="{_fmt(y80)}" stroke="#a3231b" stroke-dasharray="4 3"/>'
    )
    body.append(_text(left + plot_w - 4, y80 - 4, "80%", "threshold-label", "end"))
    points = []
    for i, row in enumerate(rows):
        cx = left + slot * i + slot / 2
        y = y_of(row.count, peak)
        cls = "bar vital" if row.vital_few else "bar"
        fill = "#1a56b0" if row.vital_few else "#9db5d8"
        body.append(
            f'<rect class="{cls}" x="{_fmt(cx - bar_w / 2)}" y="{_fmt(y)}" width="{_fmt(bar_w)}" '
            f'height="{_fmt(top + plot_h - y)}" fill="{fill}">'
            f"<title>{esc(row.key)}: {row.count} ({_fmt(row.percent)}%)</title></rect>"
        )
        label_x, label_y = cx, top + plot_h + 12
        body.append(
            f'<text class="key" x="{_fmt(label_x)}" y="{_fmt(label_y)}" text-anchor="end" '
            f'transform="rotate(-35 {_fmt(label_x)} {_fmt(label_y)})"><title>{esc(row.key)}'
            f"</title>{esc(clip(row.key, 16))}</text>"
        )
        points.append((cx, y_of(row.cumulative_percent, 100)))
    if points:
        body.append(
            '<polyline class="cumulative" fill="none" stroke="#7a3700" stroke-width="2" points="'
            + " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points)
            + '"/>'
        )
        for (x, y), row in zip(points, rows, strict=True):
            body.append(
                f'<circle class="point" cx="{_fmt(x)}" cy="{_fmt(y)}" r="3" fill="#7a3700">'
                f"<title>{_fmt(row.cumulative_percent)}%</title></circle>"
            )
    return _svg(width, height, "pareto", title, body)


# ---- progress against the estimate --------------------------------------------------------


def progress(hours: float, estimate: int, *, width: int = 120) -> SafeString:
    """A bar of the hours spent against the estimate; past it the bar is full and red."""
    percent = 100 * hours / max(1, estimate)
    overrun = hours > estimate
    height = 10
    filled = width * min(100.0, percent) / 100
    cls = "progress overrun" if overrun else "progress"
    label = _("%(hours)s of %(estimate)s hours (%(percent)s%%)") % {
        "hours": _fmt(hours), "estimate": estimate, "percent": _fmt(round(percent)),
    }  # fmt: skip
    body = [
        f'<rect class="track" x="0" y="0" width="{width}" height="{height}" rx="3" '
        f'fill="#e3e8ee"/>',
        f'<rect class="fill" x="0" y="0" width="{_fmt(filled)}" height="{height}" rx="3" '
        f'fill="{"#a3231b" if overrun else "#1d6b34"}"/>',
    ]
    return _svg(width, height, cls, label, body)
