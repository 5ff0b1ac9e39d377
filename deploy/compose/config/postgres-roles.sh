#!/bin/sh
# First start of the PostgreSQL container only: the evidence table's owner (no login) and the
# engines' login role (not the owner: row-level security applies to it). The table itself is
# created by the evidence-init service (vv-evidence init-postgres).
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<SQL
CREATE ROLE vv_owner NOLOGIN;
CREATE ROLE vv_engine LOGIN PASSWORD '${PG_ENGINE_PASSWORD}';
SQL
