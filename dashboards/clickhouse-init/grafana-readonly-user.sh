#!/bin/bash
# The read-only ClickHouse user Grafana queries as. Mount into the clickhouse service as
# /docker-entrypoint-initdb.d/grafana-readonly-user.sh (the image runs it on first start).
# readonly = 1 with max_execution_time changeable: what grafana-clickhouse-datasource needs.
set -euo pipefail
: "${TOUCHLINE_GRAFANA_CH_USER:?set TOUCHLINE_GRAFANA_CH_USER}"
: "${TOUCHLINE_GRAFANA_CH_PASSWORD:?set TOUCHLINE_GRAFANA_CH_PASSWORD}"
clickhouse client --multiquery <<SQL
CREATE USER IF NOT EXISTS ${TOUCHLINE_GRAFANA_CH_USER}
    IDENTIFIED WITH sha256_password BY '${TOUCHLINE_GRAFANA_CH_PASSWORD}'
    DEFAULT DATABASE touchline
    SETTINGS readonly = 1, max_execution_time CHANGEABLE_IN_READONLY;
GRANT SELECT ON touchline.* TO ${TOUCHLINE_GRAFANA_CH_USER};
SQL
