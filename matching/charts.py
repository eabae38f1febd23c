"""Small server-side SVG charts for the impact dashboard: geometry only, rendered by a
template as inline SVG (no script, so nothing for the CSP to allow). Pure: imports no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# One colour per pipeline stage, shared by the charts and the map (passed to its script).
STAGE_COLOURS: dict[str, str] = {
    "proposed": "#8a9ba8",
    "shortlisted": "#3b82c4",
    "introduced": "#d9a21b",
    "negotiating": "#c2571a",
    "implemented": "#0b6e4f",
    "rejected": "#a4161a",
    "withdrawn": "#5f5f5f",
}


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    title: str
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[tuple[float, float, float, float]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rects


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (an axis that reads well)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def stacked_columns(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 680,
    height: int = 260,
) -> Chart:
    """One column per category, stacked by series (name, colour, values per category)."""
    left, right, top, bottom = 40, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for _, _, values in series) for i in range(len(categories))]
    top_value = _nice_max(max(totals, default=0))
    chart = Chart(width=width, height=height, title=title)
    slot = plot_w / max(len(categories), 1)
    bar = slot * 0.7
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for name, colour, values in series:
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            chart.rects.append(Rect(x, y, bar, h, colour, f"{category}: {value:g} {name}"))
        chart.labels.append(Label(x + bar / 2, height - bottom + 16, category))
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        chart.lines.append((left, y, width - right, y))
        chart.labels.append(Label(left - 4, y + 4, f"{top_value * fraction:g}", "end"))
    chart.legend.extend((name, colour) for name, colour, values in series if any(values))
    return chart


def horizontal_bars(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    unit: str = "",
    width: int = 420,
    maximum: float | None = None,
    decimals: int = 1,
) -> Chart:
    """One bar per row (label, value, colour), with the value written after it."""
    left, right, row_h = 110, 120, 28
    height = row_h * max(len(rows), 1) + 10
    top_value = (
        maximum if maximum is not None else _nice_max(max((v for _, v, _ in rows), default=0))
    )
    plot_w = width - left - right
    chart = Chart(width=width, height=height, title=title)
    for i, (label, value, colour) in enumerate(rows):
        y = 5 + i * row_h
        w = plot_w * min(value, top_value) / top_value if top_value else 0
        text = f"{value:,.{decimals}f} {unit}".strip()
        chart.rects.append(Rect(left, y + 4, max(w, 0.5), row_h - 10, colour, f"{label}: {text}"))
        chart.labels.append(Label(left - 6, y + row_h / 2 + 4, label, "end"))
        chart.labels.append(Label(left + w + 6, y + row_h / 2 + 4, text, "start"))
    return chart
