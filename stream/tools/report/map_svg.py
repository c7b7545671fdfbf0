"""The federal map of the report page: one tile per region of the registry on the fixed grid of
``regions``, with its code and its b, coloured by the slides' bands (0–1 %, 1–5 %, 5–100 %).
Each tile is a ``<g class="tile" data-region=… data-band=…>``; the grid's other subjects (not in
the registry) are faint cells (``class="ghost"``), so the map always shows the whole country."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from stream.tools.report import labels
from stream.tools.report.data import RankedRegion
from stream.tools.report.regions import COLUMNS, ROWS, SUBJECTS, place
from stream.tools.report.svg import BAND_COLOURS, NO_DATA_COLOUR, SELECTED_COLOUR, svg

TILE_W, TILE_H, GAP = 46, 40, 4


def band_legend() -> str:
    items = "".join(
        f'<span style="background:{colour}"></span>{escape(labels.BANDS[band])}'
        for band, colour in BAND_COLOURS.items()
    )
    return f'<p class="legend">Показатель b:{items}<span style="background:{NO_DATA_COLOUR}"></span>нет данных</p>'


def region_map(regions: Sequence[tuple[str, str]], ranking: Sequence[RankedRegion], selected: str | None = None) -> str:
    """``regions``: (region_id, name) of the registry; ``ranking``: their b in the week."""
    by_id = {r.region_id: r for r in ranking}
    tiles = place(regions)
    if not tiles:
        return '<p class="sub">Нет регионов.</p>'
    cols = max(COLUMNS, 1 + max(t.col for t in tiles))
    rows = max(ROWS, 1 + max(t.row for t in tiles))
    width, height = cols * (TILE_W + GAP), rows * (TILE_H + GAP)
    parts = []
    taken = {(t.col, t.row) for t in tiles}
    for subject in SUBJECTS:
        if (subject.col, subject.row) in taken:
            continue
        x, y = subject.col * (TILE_W + GAP), subject.row * (TILE_H + GAP)
        parts.append(
            f'<g class="ghost"><title>{escape(subject.name)}: нет в реестре</title>'
            f'<rect x="{x}" y="{y}" width="{TILE_W}" height="{TILE_H}" rx="4" fill="#eef1f5"/>'
            f'<text x="{x + TILE_W / 2:.0f}" y="{y + 24}" text-anchor="middle" fill="#a9b3bf">{subject.code}</text></g>'
        )
    for tile in tiles:
        ranked = by_id.get(tile.region_id)
        band = ranked.band if ranked else "none"
        colour = BAND_COLOURS.get(band, NO_DATA_COLOUR)
        value = labels.pct(ranked.b_share) if ranked else "—"
        x, y = tile.col * (TILE_W + GAP), tile.row * (TILE_H + GAP)
        outline = f' stroke="{SELECTED_COLOUR}" stroke-width="3"' if tile.region_id == selected else ' stroke="none"'
        parts.append(
            f'<g class="tile" data-region="{escape(tile.region_id)}" data-band="{escape(band)}">'
            f"<title>{escape(tile.name)}: {value}</title>"
            f'<rect x="{x}" y="{y}" width="{TILE_W}" height="{TILE_H}" rx="4" fill="{colour}"{outline}/>'
            f'<text x="{x + TILE_W / 2:.0f}" y="{y + 16}" text-anchor="middle">{escape(tile.code)}</text>'
            f'<text class="v" x="{x + TILE_W / 2:.0f}" y="{y + 31}" text-anchor="middle">{value}</text></g>'
        )
    return svg(width, height, parts, "Карта субъектов РФ по показателю b", "map")
