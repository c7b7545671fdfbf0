"""Inline SVG bar charts of the report page: the four indicators against their targets, the shares
of the municipalities with the level thresholds, and the regions ranked by b. Every name goes
through ``html.escape``; numbers are formatted by ``labels``."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from sinks.indicators import TARGETS_PCT
from stream.tools.report import labels
from stream.tools.report.data import Indicator, MunicipalityShare, RankedRegion

LEVEL_COLOURS = {"low": "#d64541", "sufficient": "#f0a202", "high": "#2e9e5b"}
MET_COLOURS = {True: "#2e9e5b", False: "#d64541"}
#: the federal map's bands of b, coloured like the levels: below 1 %, 1–5 %, 5 % and more
BAND_COLOURS = {"0-1%": "#d64541", "1-5%": "#f0a202", "5-100%": "#2e9e5b"}
NO_DATA_COLOUR = "#a9b3bf"
SELECTED_COLOUR = "#1f6fd1"
OTHER_COLOUR = "#8aa4c8"
#: longest name drawn in a chart row; longer ones are cut and shown whole in a tooltip
CHART_NAME_CHARS = 34


def svg(width: int, height: int, parts: Sequence[str], title: str, css_class: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return (
        f'<svg{cls} viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet" style="max-width:{width}px">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def axis(x0: int, bar_w: int, top: int, bottom: int, ticks: Sequence[int]) -> str:
    out = []
    for tick in ticks:
        x = x0 + tick / 100 * bar_w
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{bottom}" stroke="#dde3ea" stroke-width="1"/>'
            f'<text class="axis" x="{x:.1f}" y="{top - 8}" text-anchor="middle">{tick}%</text>'
        )
    return "".join(out)


def name_text(name: str, x: int, y: int, *, bold: bool = False) -> str:
    shown = name if len(name) <= CHART_NAME_CHARS else name[: CHART_NAME_CHARS - 1] + "…"
    weight = ' font-weight="700"' if bold else ""
    return f'<text x="{x}" y="{y}" text-anchor="end"{weight}><title>{escape(name)}</title>{escape(shown)}</text>'


def indicator_chart(indicators: Sequence[Indicator]) -> str:
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 42, 20, 22
    width, height = x0 + bar_w + 70, top + row_h * len(indicators) + 4
    parts = [axis(x0, bar_w, top, height - 4, (0, 25, 50, 75, 100))]
    for i, ind in enumerate(indicators):
        y = top + i * row_h + (row_h - bar_h) // 2
        w = ind.share * bar_w
        tx = x0 + ind.target * bar_w
        parts.append(
            f'<text x="{label_w}" y="{y + bar_h - 5}" text-anchor="end">'
            f"{escape(labels.INDICATOR_SHORT[ind.key])}</text>"
            f'<rect x="{x0}" y="{y}" width="{bar_w}" height="{bar_h}" fill="#eef1f5"/>'
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{MET_COLOURS[ind.met]}">'
            f"<title>{escape(labels.INDICATOR_TITLES[ind.key])}: {labels.pct(ind.share)}</title></rect>"
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 5}" y2="{y + bar_h + 5}" stroke="#1d2430" stroke-width="3"/>'
            f'<text class="axis" x="{tx + 4:.1f}" y="{y - 2}">цель {ind.target_pct}%</text>'
            f'<text class="val" x="{x0 + max(w, 0) + 6:.1f}" y="{y + bar_h - 5}">{labels.pct(ind.share)}</text>'
        )
    return svg(width, height, parts, "Четыре показателя и целевые значения")


def level_chart(items: Sequence[MunicipalityShare], levels: tuple[float, float], title: str) -> str:
    if not items:
        return '<p class="sub">Нет муниципальных образований.</p>'
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 24, 16, 22
    width, height = x0 + bar_w + 70, top + row_h * len(items) + 4
    parts = [axis(x0, bar_w, top, height - 4, (0, 25, 50, 75, 100))]
    for i, m in enumerate(items):
        y = top + i * row_h + (row_h - bar_h) // 2
        w = m.share * bar_w
        parts.append(
            f"{name_text(m.name, label_w, y + bar_h - 3)}"
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{LEVEL_COLOURS.get(m.level, "#999")}">'
            f"<title>{escape(m.name)}: {labels.pct(m.share)} ({m.count} из {m.of}; "
            f"{escape(labels.LEVEL_NAMES.get(m.level, m.level))})</title></rect>"
            f'<text class="val" x="{x0 + w + 6:.1f}" y="{y + bar_h - 3}">{labels.pct(m.share)}</text>'
        )
    for threshold in levels:
        x = x0 + threshold * bar_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 4}" stroke="#5f6b7a" '
            'stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
    return svg(width, height, parts, title)


def ranking_chart(regions: Sequence[RankedRegion | None], selected: str | None, title: str) -> str:
    """Bars of b per region, in the given order; None draws a "…" row (a gap in the ranks)."""
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 26, 18, 22
    bottom = top + row_h * len(regions)
    width, height = x0 + bar_w + 70, bottom + 20
    parts = [axis(x0, bar_w, top, bottom, (0, 25, 50, 75, 100))]
    target_x = x0 + TARGETS_PCT["b"] / 100 * bar_w
    parts.append(  # under the bars and their values
        f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{top - 4}" y2="{bottom + 4}" stroke="#1d2430" '
        'stroke-width="2"/>'
        f'<text class="axis" x="{target_x:.1f}" y="{bottom + 16}" text-anchor="middle">цель {TARGETS_PCT["b"]}%</text>'
    )
    for i, r in enumerate(regions):
        y = top + i * row_h + (row_h - bar_h) // 2
        if r is None:
            parts.append(f'<text x="{label_w}" y="{y + bar_h - 4}" text-anchor="end">…</text>')
            continue
        w = r.b_share * bar_w
        mark = r.region_id == selected
        colour = SELECTED_COLOUR if mark else OTHER_COLOUR
        parts.append(
            f"{name_text(f'{r.rank}. {r.name}', label_w, y + bar_h - 4, bold=mark)}"
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
            f"<title>{escape(r.name)}: {labels.pct(r.b_share)} ({r.b_teachers} из {r.teachers_registered})</title>"
            f"</rect>"
            f'<text class="val" x="{x0 + w + 6:.1f}" y="{y + bar_h - 4}">{labels.pct(r.b_share)}</text>'
        )
    return svg(width, height, parts, title)
