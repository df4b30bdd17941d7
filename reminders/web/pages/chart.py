"""A small server-rendered SVG line chart (pain 0-10, glucose mg/dL) — no JavaScript, no
chart library. Pure: values in, markup out, every text escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Band:
    """A horizontal reference line, e.g. the clinic's 'urgent at pain 8' threshold."""

    value: float
    label: str


def line_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    unit: str,
    low: float,
    high: float,
    tz: ZoneInfo,
    bands: Sequence[Band] = (),
) -> Markup:
    if not points:
        return Markup("")
    high = max(high, *(v for _, v in points))
    low = min(low, *(v for _, v in points))
    first, last = points[0][0], points[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        if len(points) == 1:
            return LEFT + plot_w / 2
        return LEFT + plot_w * (at - first).total_seconds() / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / ((high - low) or 1))

    label = f"{title}: " + ", ".join(
        f"{v:g} {unit} on {at.astimezone(tz):%a %d %b %H:%M}" for at, v in points
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
    ]
    for value in (low, high):
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
                     f'text-anchor="end">{value:g}</text>')  # fmt: skip
    for band in bands:
        if low <= band.value <= high:
            parts.append(f'<line class="band" x1="{LEFT}" y1="{y(band.value):.1f}" '
                         f'x2="{WIDTH - RIGHT}" y2="{y(band.value):.1f}"/>'
                         f'<text class="band-label" x="{WIDTH - RIGHT}" '
                         f'y="{y(band.value) - 4:.1f}" text-anchor="end">'
                         f"{escape(band.label)}</text>")  # fmt: skip
    coords = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in points)
    if len(points) > 1:
        parts.append(f'<polyline class="series" points="{coords}"/>')
    for at, value in points:
        parts.append(f'<circle class="point" cx="{x(at):.1f}" cy="{y(value):.1f}" r="4">'
                     f"<title>{value:g} {escape(unit)}, "
                     f"{at.astimezone(tz):%a %d %b %H:%M}</title></circle>")  # fmt: skip
    # Within two days the hour says more than the date.
    tick_format = "%d %b %H:%M" if span < 2 * 86400 else "%d %b"
    ends = [(first, "start"), (last, "end")] if len(points) > 1 else [(first, "middle")]
    for at, anchor in ends:
        label = at.astimezone(tz).strftime(tick_format)
        parts.append(f'<text class="tick" x="{x(at):.1f}" y="{HEIGHT - 8}" '
                     f'text-anchor="{anchor}">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only
