#!/bin/bash
# First start of the ClickHouse container (deploy/docker-compose.yml mounts this directory at
# /docker-entrypoint-initdb.d): after 05-sferum-access.sql made the roles and row policies, make
# the accounts, whose passwords come from the container's environment, never from a file here.
#
#   sferum_worker   role sferum_writer: the workers (SFERUM_STORE_USER / SFERUM_STORE_PASSWORD)
#   sferum_grafana  role sferum_reader: Grafana's data source, read only
#
# Regional accounts are made by hand (docs/security.md, "Readers").
# NOT RUN HERE (no Docker engine on the build machine; checked statically only).
set -euo pipefail
: "${WORKER_CLICKHOUSE_PASSWORD:?set WORKER_CLICKHOUSE_PASSWORD}" "${GRAFANA_CLICKHOUSE_PASSWORD:?set GRAFANA_CLICKHOUSE_PASSWORD}"
clickhouse client --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" --multiquery <<SQL
CREATE USER IF NOT EXISTS sferum_worker IDENTIFIED WITH sha256_password BY '${WORKER_CLICKHOUSE_PASSWORD}';
GRANT sferum_writer TO sferum_worker;
SET DEFAULT ROLE ALL TO sferum_worker;
CREATE USER IF NOT EXISTS sferum_grafana IDENTIFIED WITH sha256_password BY '${GRAFANA_CLICKHOUSE_PASSWORD}';
GRANT sferum_reader TO sferum_grafana;
SET DEFAULT ROLE ALL TO sferum_grafana;
SQL
