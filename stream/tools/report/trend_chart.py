"""Line charts of the indicators over the weeks: a–d and the active share of the region, each with
its target as a dashed line of the same colour (the active share has none), and the same lines
small, one chart per municipality (small multiples, one scale for all).

Each line is a ``<polyline class="trend" data-series="a">``; a target is a ``<line class="target"
data-series="a">``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from sinks.indicators import TARGETS_PCT
from stream.tools.report import labels
from stream.tools.report.svg import svg
from stream.tools.report.trends import SERIES, Trend, Trends

SERIES_COLOURS = {"a": "#1f6fd1", "b": "#e07b00", "c": "#7b4fc9", "d": "#1b9e8a", "active": "#1d2430"}


def scale_max(trends: Sequence[Trend]) -> float:
    """The top of the y axis for these units: the highest value or target, rounded up to a step
    of 10 % (20 % above 50 %)."""
    values = [v for t in trends for series in t.values.values() for v in series]
    top = max([*values, *(p / 100 for p in TARGETS_PCT.values())])
    step = _step(top)
    return min(1.0, math.ceil(round(top / step, 9)) * step)


def _step(y_max: float) -> float:
    return 0.1 if y_max <= 0.5 + 1e-9 else 0.2


def legend() -> str:
    items = "".join(
        f'<span class="swatch" style="background:{SERIES_COLOURS[key]}"></span>{escape(labels.TREND_NAMES[key])}'
        for key in SERIES
    )
    return f'<p class="legend">{items}; пунктир — цель показателя</p>'


def region_chart(trends: Trends, y_max: float) -> str:
    return _chart(trends.weeks, trends.region, y_max, big=True, title=f"{trends.region.name}: показатели по неделям")


def small_multiples(trends: Trends, y_max: float) -> str:
    figures = "".join(
        f'<figure class="multiple" data-municipality="{escape(t.unit_id)}">'
        f'<figcaption title="{escape(t.name)}">{escape(t.name)}</figcaption>'
        f"{_chart(trends.weeks, t, y_max, big=False, title=t.name)}</figure>"
        for t in trends.municipalities
    )
    return f'<div class="multiples">{figures}</div>' if figures else '<p class="sub">Нет муниципальных образований.</p>'


def _chart(weeks: Sequence[date], trend: Trend, y_max: float, *, big: bool, title: str) -> str:
    if big:
        width, height, left, right, top, bottom = 900, 300, 44, 120, 14, 28
    else:
        width, height, left, right, top, bottom = 260, 130, 30, 10, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(weeks)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(value: float) -> float:
        return top + plot_h * (1 - min(value, y_max) / y_max)

    parts = []
    steps = round(y_max / _step(y_max)) if big else 2
    for k in range(steps + 1):
        v = y_max * k / steps
        at = f"{y(v):.1f}"
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{at}" y2="{at}" stroke="#dde3ea" stroke-width="1"/>'
            f'<text class="axis" x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end">'
            f"{labels.whole_pct(round(v, 4))}</text>"
        )
    every = max(1, math.ceil(n / (10 if big else 3)))
    for i, week in enumerate(weeks):
        last = i == n - 1
        if last or (i % every == 0 and n - 1 - i >= every):  # no label crowds the last week's
            anchor = "end" if last and n > 1 and not big else "middle"
            at = f'x="{x(i):.1f}" y="{height - 6}" text-anchor="{anchor}"'
            parts.append(f'<text class="axis" {at}>{week:%d.%m}</text>')
    for key, percent in TARGETS_PCT.items():
        target = percent / 100
        parts.append(
            f'<line class="target" data-series="{key}" x1="{left}" x2="{left + plot_w}" y1="{y(target):.1f}" '
            f'y2="{y(target):.1f}" stroke="{SERIES_COLOURS[key]}" stroke-opacity="{0.8 if big else 0.45}" '
            f'stroke-dasharray="{"6 4" if big else "3 3"}" stroke-width="1.2"/>'
        )
    if big:  # one label per target value: c and d share 30 %
        for percent in sorted(set(TARGETS_PCT.values())):
            keys = ", ".join(k for k, p in TARGETS_PCT.items() if p == percent)
            at = f"{y(percent / 100) + 3:.1f}"
            parts.append(f'<text class="axis" x="{left + plot_w + 6}" y="{at}">цель {keys}: {percent}%</text>')
    for key in SERIES:
        values = trend.values.get(key, ())
        if not values:
            continue
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        colour = SERIES_COLOURS[key]
        parts.append(
            f'<polyline class="trend" data-series="{key}" points="{points}" fill="none" stroke="{colour}" '
            f'stroke-width="{2.2 if big else 1.4}" stroke-linejoin="round">'
            f"<title>{escape(labels.TREND_NAMES[key])}: {labels.pct(values[-1])}</title></polyline>"
        )
        radius = 3 if big else 1.6
        parts += [
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{colour}"/>' for i, v in enumerate(values)
        ]
    return svg(width, height, parts, title, "trend-chart" if big else "trend-small")
