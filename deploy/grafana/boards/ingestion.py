"""``sferum-ingestion``: the workers from Prometheus (metrics of ``stream/worker/metrics.py`` and
``stream/worker/kpi_gauges.py``, recording rules of ``deploy/prometheus/rules/sferum.rules.yml``)."""

from __future__ import annotations

import textwrap

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import prometheus as prom_models

from sinks.indicators import TARGETS_PCT
from stream.tools.report.labels import INDICATOR_SHORT

from .common import BLUE, GREEN, INDICATORS, PROMETHEUS, RED, YELLOW
from .layout import Board, Layout, board
from .panels import dashed_target_line, legend, prop, reduce_last, thresholds, value_map

JOB = 'job="sferum-kpi-worker"'


def promql(expr: str, legend_format: str, *, ref_id: str = "A", instant: bool = False) -> prom.Dataquery:
    query = (
        prom.Dataquery()
        .expr(textwrap.dedent(expr).strip())
        .legend_format(legend_format)
        .ref_id(ref_id)
        .datasource(PROMETHEUS)
        .editor_mode(prom_models.QueryEditorMode.CODE)
    )
    return query.instant() if instant else query.range()


def series(title: str, unit: str, *targets: prom.Dataquery, w: int = 12, description: str = "") -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .targets(list(targets))
        .span(w)
        .height(8)
        .unit(unit)
        .min(0)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(legend())
    )
    return panel.description(description) if description else panel


def per_worker_stat(
    title: str, unit: str, target: prom.Dataquery, steps: db.ThresholdsConfig, *, w: int = 6
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .with_target(target)
        .span(w)
        .height(5)
        .unit(unit)
        .reduce_options(reduce_last())
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(steps)
    )


def kpi_share_series(key: str) -> timeseries.Panel:
    return series(
        f"{INDICATOR_SHORT[key]} · цель {TARGETS_PCT[key]} %",
        "percentunit",
        promql(f'region_indicator:sferum_kpi_share:ratio{{indicator="{key}"}}', "{{region}}"),
        promql(f'indicator:sferum_kpi_target:ratio{{indicator="{key}"}}', "цель", ref_id="B"),
        w=6,
        description="Текущая неделя, по состоянию воркеров (sferum_kpi_teachers), до записи в ClickHouse.",
    ).override_by_name(
        "цель",
        [
            prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            prop("custom.fillOpacity", 0),
            prop("color", {"mode": "fixed", "fixedColor": "text"}),
        ],
    )


def ingestion_board() -> Board:
    dashboard = board(
        "sferum-ingestion",
        "Сферум · ingestion",
        "sferum-kpi workers: throughput, rejections, lag, ClickHouse flushes, partitions, and the KPI "
        "shares per region from the recording rules.",
        time_from="now-6h",
        refresh="30s",
    )
    rate = "$__rate_interval"
    Layout(dashboard).row(
        "Throughput",
        series(
            "Consumed by type",
            "cps",
            promql("sum by (type) (job_type:sferum_events_consumed:rate5m)", "{{type}}"),
            w=8,
            description='Messages read from the input topics per second; type="invalid" did not decode.',
        ),
        series(
            "Counted, ignored, duplicates",
            "cps",
            promql(f"sum by (type) (rate(sferum_events_counted_total{{{JOB}}}[{rate}]))", "counted {{type}}"),
            promql(f"sum(rate(sferum_events_ignored_total{{{JOB}}}[{rate}]))", "ignored", ref_id="B"),
            promql(f"sum(rate(sferum_events_duplicate_total{{{JOB}}}[{rate}]))", "duplicate", ref_id="C"),
            w=8,
        ),
        series(
            "Rejected by reason",
            "cps",
            promql("sum by (reason) (job_reason:sferum_events_rejected:rate5m)", "{{reason}}"),
            w=8,
            description="Dead-lettered messages per second (headers reason, detail, source_*).",
        ),
        series(
            "Dead-letter ratio (15 min)",
            "percentunit",
            promql("job:sferum_events_rejected:ratio_rate15m", "{{job}}"),
            w=8,
            description="Rejected / consumed; SferumDeadLetterRateHigh fires above 5 %.",
        )
        .thresholds(thresholds(GREEN, (0.05, RED)))
        .thresholds_style(dashed_target_line()),
        series(
            "Rows flushed to ClickHouse",
            "rps",
            promql(f"sum by (instance) (rate(sferum_flush_rows_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
        ),
        series(
            "Late events",
            "cps",
            promql(f"sum by (instance) (rate(sferum_events_late_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
            description="Also counted in rejected, reason late.",
        ),
    ).row(
        "Lag",
        series(
            "Consumer lag by topic",
            "short",
            promql("job_topic:sferum_consumer_lag_messages:sum", "{{topic}}"),
            w=8,
            description="Unprocessed messages over the whole group; SferumConsumerLagGrowing above 10 000 and growing.",
        )
        .thresholds(thresholds(GREEN, (10000, RED)))
        .thresholds_style(dashed_target_line()),
        series(
            "Consumer lag by worker and partition",
            "short",
            promql(
                f"sum by (instance, topic, partition) (sferum_consumer_lag_messages{{{JOB}}})",
                "{{instance}} {{topic}}/{{partition}}",
            ),
            w=8,
        ),
        series(
            "Event lag (wall clock − newest event time)",
            "s",
            promql(f"max by (instance, partition) (sferum_event_lag_seconds{{{JOB}}})", "{{instance}} p{{partition}}"),
            w=8,
        ),
    ).row(
        "Flushes to ClickHouse",
        series(
            "Flush duration p50 / p99",
            "s",
            promql(
                f"histogram_quantile(0.5, sum by (le) (rate(sferum_flush_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                "p50",
            ),
            promql(
                f"histogram_quantile(0.99, sum by (le) (rate(sferum_flush_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                "p99",
                ref_id="B",
            ),
            w=8,
        ),
        series(
            "Flush failures",
            "short",
            promql(f"sum by (instance) (increase(sferum_flush_failures_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
            description="Failed ClickHouse writes (retried with backoff); SferumFlushFailing fires on any.",
        ).draw_style(common.GraphDrawStyle.BARS),
        series(
            "Pending rows",
            "short",
            promql(f"sum by (instance) (sferum_flush_pending_rows{{{JOB}}})", "{{instance}}"),
            w=8,
            description="Rows waiting for the next flush (bounded by SFERUM_FLUSH_MAX_PENDING_EVENTS).",
        ),
        per_worker_stat(
            "Time since last successful flush",
            "s",
            promql(f"time() - sferum_flush_last_success_timestamp_seconds{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(GREEN, (60, YELLOW), (300, RED)),
            w=8,
        ).description("SferumLastFlushTooOld fires above 5 minutes on a worker with work to flush."),
        per_worker_stat(
            "Age of the stored indicators",
            "s",
            promql(f"time() - sferum_kpi_current_as_of_timestamp_seconds{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(GREEN, (120, YELLOW), (600, RED)),
            w=8,
        ).description(
            "How far kpi_unit_week (what the boards read) lags behind the rows each worker wrote; refreshed "
            "every SFERUM_KPI_REFRESH_INTERVAL_S (30 s). SferumIndicatorsStale fires above 10 minutes."
        ),
        per_worker_stat(
            "Assigned partitions per worker",
            "short",
            promql(f"sum by (instance) (sferum_assigned_partitions{{{JOB}}})", "{{instance}}", instant=True),
            thresholds(RED, (1, BLUE)),
            w=8,
        ).description("A worker with 0 partitions idles (more workers than SFERUM_PARTITIONS, or a rebalance)."),
        per_worker_stat(
            "Workers up",
            "short",
            promql(f"up{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(RED, (1, GREEN)),
            w=8,
        ).mappings([value_map({"0": ("down", RED), "1": ("up", GREEN)})]),
    ).row(
        "KPI shares per region, current week (recording rules)",
        *(kpi_share_series(key) for key in INDICATORS),
    )
    return Board("sferum-ingestion.json", dashboard.build())
