"""The Grafana boards of sferum-kpi, as code (grafana-foundation-sdk, the build for Grafana 11.6).

    .venv/bin/python -m deploy.grafana.boards            # from the repository root
    .venv/bin/python -m deploy.grafana.boards --out DIR

writes one JSON file per board into ``deploy/grafana/provisioning/dashboards/json/`` (or DIR),
where Grafana's file provider (``provisioning/dashboards/dashboards.yml``) loads them. The JSON
files are checked in; ``tests/integration/test_grafana_dashboards.py`` regenerates them and fails
when they differ, and runs every ClickHouse query of the boards against a store with demo data.

One module per board (weeks are ISO weeks in Europe/Moscow: ``week_start`` is already the Moscow
Monday): ``region`` (``sferum-region``), ``federal`` (``sferum-federal``), ``ingestion``
(``sferum-ingestion``, from Prometheus). What they share: ``common`` (data sources, colours,
``Sql``, the board frame and layout), ``sql`` (the template variables and the SQL fragments that
read them), ``panels`` (field configuration and panel helpers).

ClickHouse SQL uses only Grafana variables, formatted by Grafana as quoted, escaped SQL strings
(``${region:sqlstring}`` → ``'r1'``), and the plugin's time macros (``$__fromTime``, ``$__toTime``).
Every query keeps next to it the columns its panel reads (``Sql.columns``); the test checks them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .common import Sql
from .federal import federal_board
from .ingestion import ingestion_board
from .layout import Board, clickhouse_queries
from .region import region_board

__all__ = ["OUT_DIR", "Board", "Sql", "boards", "clickhouse_queries", "main", "write"]

OUT_DIR = Path(__file__).resolve().parents[1] / "provisioning" / "dashboards" / "json"


def boards() -> list[Board]:
    return [region_board(), federal_board(), ingestion_board()]


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for b in boards():
        path = out_dir / b.filename
        path.write_text(b.json(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.grafana.boards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default: {OUT_DIR})")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)
    return 0
