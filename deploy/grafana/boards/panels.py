"""Field configuration and panel helpers of the boards: thresholds, value mappings, override
properties, legends, and a table on a ClickHouse query."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from sinks.indicators import TARGETS_PCT

from .common import CLICKHOUSE, GREEN, RED, ClickHouse, Sql


def thresholds(base: str, *steps: tuple[float, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=None, color=base), *(dm.Threshold(value=v, color=c) for v, c in steps)])
    )


def target_thresholds(key: str) -> db.ThresholdsConfig:
    return thresholds(RED, (TARGETS_PCT[key] / 100, GREEN))


def value_map(values: dict[str, tuple[str, str]]) -> dm.ValueMap:
    return dm.ValueMap(
        options={
            value: dm.ValueMappingResult(text=text, color=color, index=i)
            for i, (value, (text, color)) in enumerate(values.items())
        }
    )


def prop(id_val: str, value: object) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=id_val, value=value)


def named(name: str) -> list[dm.DynamicConfigValue]:
    return [prop("displayName", name)]


def percent(name: str | None = None) -> list[dm.DynamicConfigValue]:
    props = [prop("unit", "percentunit"), prop("decimals", 1)]
    return props + (named(name) if name else [])


def pp(name: str) -> list[dm.DynamicConfigValue]:
    return [*named(name), prop("unit", "suffix: п. п."), prop("decimals", 1)]


def hidden() -> list[dm.DynamicConfigValue]:
    return [prop("custom.hidden", True)]


def coloured_text(steps: db.ThresholdsConfig) -> list[dm.DynamicConfigValue]:
    return [
        prop("color", {"mode": "thresholds"}),
        prop("thresholds", steps.build()),
        prop("custom.cellOptions", common.TableColorTextCellOptions()),
    ]


def coloured_row() -> list[dm.DynamicConfigValue]:
    """Colour the whole row by this field's mapped colour."""
    return [
        prop(
            "custom.cellOptions",
            common.TableColoredBackgroundCellOptions(
                mode=common.TableCellBackgroundDisplayMode.BASIC, apply_to_row=True
            ),
        )
    ]


def reduce_last() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("")


def legend(placement: common.LegendPlacement = common.LegendPlacement.BOTTOM) -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(placement)
        .calcs([])
    )


def dashed_target_line() -> cb.GraphThresholdsStyleConfig:
    return cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)


def ch_table(title: str, sql: Sql, *, w: int, h: int, description: str = "") -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(sql))
        .span(w)
        .height(h)
        .cell_height(common.TableCellHeight.SM)
        .show_header(True)
    )
    return panel.description(description) if description else panel
