#!/bin/sh
# First start of the PostgreSQL container only: the evidence table's owner (no login) and the
# login roles of the engines (evidence) and gateways (execution graphs), neither owning its
# table, so row-level security applies. The tables are created by the evidence-init service.
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<SQL
CREATE ROLE vv_owner NOLOGIN;
CREATE ROLE vv_engine LOGIN PASSWORD '${PG_ENGINE_PASSWORD}';
CREATE ROLE vv_graph_owner NOLOGIN;
CREATE ROLE vv_gateway LOGIN PASSWORD '${PG_GATEWAY_PASSWORD}';
SQL
