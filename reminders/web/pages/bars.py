"""Server-rendered SVG bar charts (stacked), like chart.py's line chart: no JavaScript, no
chart library. Pure: counts in, markup out, every text escaped.

Accessible by construction: ``role="img"`` labelled by the chart's ``<title>`` and a
``<desc>`` that says the numbers in words, a ``<title>`` on every bar segment (a tooltip),
and colours chosen by CSS class (``s-<series key>``) with a legend in words. Pages show a
table of the same numbers beside each chart for anyone who would rather read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
LEGEND_H = 26


@dataclass(frozen=True)
class Series:
    key: str  # the CSS class is s-<key>
    label: str  # words, for the legend and the tooltips


def _legend(series: Sequence[Series]) -> list[str]:
    parts, x = [], 4.0
    for s in series:
        parts.append(f'<rect class="s-{escape(s.key)}" x="{x:.0f}" y="6" width="12" height="12"/>'
                     f'<text x="{x + 17:.0f}" y="17">{escape(s.label)}</text>')  # fmt: skip
        x += 17 + 7.5 * len(s.label) + 18
    return parts


def _open(ident: str, height: float, title: str, desc: str) -> list[str]:
    ident = escape(ident)
    return [
        f'<svg class="bars" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(desc)}</desc>',
    ]


def _tip(label: str, n: int, s: Series) -> str:
    return f"<title>{escape(label)}: {n} {escape(s.label)}</title>"


def _said(label: str, series: Sequence[Series], counts: Sequence[int]) -> str:
    return f"{label}: " + ", ".join(f"{n} {s.label}" for s, n in zip(series, counts, strict=True))


def stacked_rows(
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    *,
    title: str,
    ident: str,
) -> Markup:
    """One horizontal bar per label (the label above it, so long names fit a phone),
    its segments stacked in ``series`` order, the total at the end."""
    if not labels:
        return Markup("")
    row_h, bar_h, right = 44, 14, 64
    height = LEGEND_H + row_h * len(labels) + 4
    scale = (WIDTH - 8 - right) / max(1, *(sum(v) for v in values))
    desc = "; ".join(_said(label, series, v) for label, v in zip(labels, values, strict=True))
    parts = [*_open(ident, height, title, desc), *_legend(series)]
    for i, (label, counts) in enumerate(zip(labels, values, strict=True)):
        top = LEGEND_H + i * row_h
        parts.append(f'<text x="4" y="{top + 15}">{escape(label)}</text>')
        x = 4.0
        for s, n in zip(series, counts, strict=True):
            if n:
                parts.append(f'<rect class="s-{escape(s.key)}" x="{x:.1f}" y="{top + 21}" '
                             f'width="{n * scale:.1f}" height="{bar_h}">'
                             f"{_tip(label, n, s)}</rect>")  # fmt: skip
                x += n * scale
        parts.append(f'<text class="tick" x="{x + 6:.1f}" y="{top + 32}">{sum(counts)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only


def stacked_columns(
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    *,
    title: str,
    ident: str,
    ticks: Sequence[str] = (),
    summary: str = "",
) -> Markup:
    """One vertical column per label (a day, say), segments stacked in ``series`` order.
    ``ticks`` are the axis labels under the columns ("" for none); ``summary`` opens the
    description (the per-column numbers follow, for the columns that have any)."""
    if not labels:
        return Markup("")
    height, left, right, bottom = 230, 30, 8, 26
    plot_h = height - LEGEND_H - bottom - 8
    top_value = max(1, *(sum(v) for v in values))
    step = (WIDTH - left - right) / len(labels)
    bar_w = max(2.0, step * 0.7)
    base = LEGEND_H + 8 + plot_h
    said = [_said(label, series, v) for label, v in zip(labels, values, strict=True) if sum(v)]
    desc = " ".join(filter(None, [summary, "; ".join(said)]))
    parts = [*_open(ident, height, title, desc), *_legend(series)]
    # Gridlines at 0, the top and, when it is a whole number, halfway.
    for value in sorted({0, top_value, *([top_value // 2] if top_value % 2 == 0 else [])}):
        y = base - plot_h * value / top_value
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" '
                     f'y2="{y:.1f}"/><text class="tick" x="{left - 5}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value}</text>')  # fmt: skip
    parts.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}"/>')
    for i, (label, counts) in enumerate(zip(labels, values, strict=True)):
        x = left + i * step + (step - bar_w) / 2
        y = float(base)
        for s, n in zip(series, counts, strict=True):
            if n:
                h = plot_h * n / top_value
                y -= h
                parts.append(f'<rect class="s-{escape(s.key)}" x="{x:.1f}" y="{y:.1f}" '
                             f'width="{bar_w:.1f}" height="{h:.1f}">'
                             f"{_tip(label, n, s)}</rect>")  # fmt: skip
        tick = ticks[i] if i < len(ticks) else ""
        if tick:
            anchor = "end" if i == len(labels) - 1 else "middle"
            parts.append(f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{height - 8}" '
                         f'text-anchor="{anchor}">{escape(tick)}</text>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only
