"""The geometry of the server-rendered SVG charts every app draws: numbers in, coordinates out
(templates/partials/line_chart.html and column_chart.html draw them; no script, no chart
library, nothing the CSP would block)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from crm.periods import format_moment

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class LineChart:
    points: str  # "x,y x,y ..." for <polyline>
    target_y: float | None
    y_labels: list[tuple[float, str]]  # (y, label)
    x_labels: list[tuple[float, str]]
    last: tuple[float, float] | None
    width: int = WIDTH
    height: int = HEIGHT
    summary: str = ""


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    if high == low:
        return (start + end) / 2
    return start + (value - low) * (end - start) / (high - low)


def history_chart(
    rows: list[tuple[dt.date, Decimal]],
    *,
    target: Decimal | None,
    period: tuple[dt.date, dt.date],
) -> LineChart:
    """A goal's value over its period: one point per snapshot, the target as a line."""
    first, last = period
    top = max([float(value) for _, value in rows] + [float(target or 0), 1.0])
    plot_x = (PAD_LEFT, WIDTH - PAD_RIGHT)
    plot_y = (HEIGHT - PAD_BOTTOM, PAD_TOP)
    start, end = first.toordinal(), max(last.toordinal(), first.toordinal() + 1)
    coords = [
        (
            round(_scale(day.toordinal(), start, end, *plot_x), 1),
            round(_scale(float(value), 0, top, *plot_y), 1),
        )
        for day, value in rows
    ]
    ticks = [0, top / 2, top]
    summary = (
        f"{len(rows)} daily values from {rows[0][1]} on {rows[0][0]:%-d %b} to "
        f"{rows[-1][1]} on {rows[-1][0]:%-d %b}"
        if rows
        else "No history yet"
    )
    return LineChart(
        points=" ".join(f"{x},{y}" for x, y in coords),
        target_y=round(_scale(float(target), 0, top, *plot_y), 1) if target else None,
        y_labels=[(round(_scale(t, 0, top, *plot_y), 1), f"{t:,.0f}") for t in ticks],
        x_labels=[(plot_x[0], f"{first:%-d %b}"), (plot_x[1], f"{last:%-d %b}")],
        last=coords[-1] if coords else None,
        summary=summary,
    )


def timeline_chart(
    rows: list[tuple[dt.datetime, float]], *, start: dt.datetime, end: dt.datetime, unit: str
) -> LineChart:
    """Counts over time (events a minute over a day): one point per (moment, count); the
    moments with none are zero."""
    top = max([float(value) for _, value in rows] + [1.0])
    plot_x = (PAD_LEFT, WIDTH - PAD_RIGHT)
    plot_y = (HEIGHT - PAD_BOTTOM, PAD_TOP)
    low, high = start.timestamp(), max(end.timestamp(), start.timestamp() + 1)
    coords = [
        (round(_scale(moment.timestamp(), low, high, *plot_x), 1),
         round(_scale(float(value), 0, top, *plot_y), 1))
        for moment, value in rows
    ]  # fmt: skip
    peak = max(rows, key=lambda row: row[1]) if rows else None
    summary = (
        f"{sum(value for _, value in rows):,.0f} {unit} in all, at most {peak[1]:,.0f} a minute "
        f"(at {format_moment(peak[0], 'H:i')})" if peak else f"No {unit} yet"
    )  # fmt: skip
    return LineChart(
        points=" ".join(f"{x},{y}" for x, y in coords),
        target_y=None,
        y_labels=[(round(_scale(t, 0, top, *plot_y), 1), f"{t:,.0f}") for t in (0, top / 2, top)],
        x_labels=[
            (plot_x[0], format_moment(start, "j M H:i")),
            (plot_x[1], format_moment(end, "j M H:i")),
        ],
        last=coords[-1] if coords else None,
        summary=summary,
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    x: float
    y: float
    width: float
    height: float
    note: str = ""


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - PAD_BOTTOM
    scale_max: float = 100


def column_chart(items: list[tuple[str, Decimal, str]], *, scale_max: float = 100) -> BarChart:
    """Columns of percentages (e.g. a completion rate per month): (label, value, note)."""
    count = max(len(items), 1)
    span = (WIDTH - PAD_LEFT - PAD_RIGHT) / count
    base = HEIGHT - PAD_BOTTOM
    bars = []
    for index, (label, value, note) in enumerate(items):
        height = _scale(min(float(value), scale_max), 0, scale_max, 0, base - PAD_TOP)
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(PAD_LEFT + index * span + span * 0.15, 1),
                y=round(base - height, 1),
                width=round(span * 0.7, 1),
                height=round(height, 1),
                note=note,
            )
        )
    return BarChart(bars=bars, scale_max=scale_max)
