"""The frame of a board (``board``: time zone, tags, links; ``Board``: the built board and its
file), its grid (``Layout``), a template variable on a ClickHouse query, and the ClickHouse
queries a built board holds."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from .common import CLICKHOUSE, TAGS, TIMEZONE, ClickHouseQuery, Sql

PanelBuilder = cogbuilder.Builder[dm.Panel]


class Layout:
    """Panels placed left to right, wrapping at the grid's 24 columns, under rows that stay open
    (Grafana reads the panels of an open row from the top-level list after it, so each row is
    added empty and its panels after it). Panel ids are 1, 2, ... in order."""

    WIDTH = 24

    def __init__(self, dashboard: db.Dashboard) -> None:
        self.dashboard = dashboard
        self._next_id = 1
        self._x = self._y = self._line_height = 0

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _new_line(self) -> None:
        self._y += self._line_height
        self._x = self._line_height = 0

    def row(self, title: str, *panels: PanelBuilder) -> Layout:
        self._new_line()
        grid = dm.GridPos(x=0, y=self._y, w=self.WIDTH, h=1)
        self.dashboard.with_row(db.Row(title).collapsed(False).id(self._id()).grid_pos(grid))
        self._y += 1
        for panel in panels:
            pos = panel.build().grid_pos  # the builder's own object: set by span() and height()
            assert pos is not None and 0 < pos.w <= self.WIDTH, title
            if self._x + pos.w > self.WIDTH:
                self._new_line()
            pos.x, pos.y = self._x, self._y
            self._x += pos.w
            self._line_height = max(self._line_height, pos.h)
            # every panel builder of the SDK has id(), but its common base cogbuilder.Builder does not
            panel.id(self._id())  # type: ignore[attr-defined]
            self.dashboard.with_panel(panel)
        return self


def board(uid: str, title: str, description: str, *, time_from: str, refresh: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone(TIMEZONE)
        .week_start("monday")
        .time(time_from, "now")
        .refresh(refresh)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            db.DashboardLink("Доски «Сферум»")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def clickhouse_variable(name: str, label: str, sql: Sql, *, every: bool = False) -> db.QueryVariable:
    """Values from SQL: one column, or (value, text) as the plugin reads two. ``every``: several
    values may be chosen, all by default (for panels that repeat over the variable)."""
    variable = (
        db.QueryVariable(name)
        .label(label)
        .datasource(CLICKHOUSE)
        .query(sql.text)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.DISABLED)
        .allow_custom_value(False)
        .include_all(every)
        .multi(every)
    )
    if every:
        variable = variable.current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    return variable


@dataclass(frozen=True)
class Board:
    filename: str
    dashboard: dm.Dashboard
    #: the ClickHouse queries of the template variables (panel queries are in the panels)
    variables: tuple[Sql, ...] = ()

    def json(self) -> str:
        return json.dumps(self.dashboard, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def iter_panels(panels: Sequence[object] | None) -> Iterator[dm.Panel]:
    for panel in panels or ():
        if isinstance(panel, dm.RowPanel):
            yield from iter_panels(panel.panels)
        elif isinstance(panel, dm.Panel):
            yield panel


def clickhouse_queries(board_: Board) -> list[Sql]:
    """Every ClickHouse query of a board: its variables' and its panels'."""
    found = list(board_.variables)
    for panel in iter_panels(board_.dashboard.panels):
        found.extend(t.sql for t in panel.targets or () if isinstance(t, ClickHouseQuery))
    return found
