#!/usr/bin/env bash
# Create Temporal's two PostgreSQL databases when missing and bring both schemas up
# to the version that this temporalio/admin-tools image ships. Safe to re-run:
# setup-schema leaves a versioned schema alone, update-schema applies only what is
# missing. docker-compose.yml runs it once before the server starts.
#
# Environment: POSTGRES_SEEDS (database host), DB_PORT (default 5432),
# POSTGRES_USER, SQL_PASSWORD (read by temporal-sql-tool itself, so the password
# never appears in a process's arguments).
set -euo pipefail

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS must name the PostgreSQL host}"
: "${POSTGRES_USER:?POSTGRES_USER must name the PostgreSQL user}"
: "${SQL_PASSWORD:?SQL_PASSWORD must hold the PostgreSQL password}"
port="${DB_PORT:-5432}"
schema_root="${TEMPORAL_SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "$port" \
    --user "$POSTGRES_USER" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  database="${pair%%:*}"
  schema="${pair#*:}"

  if ! output="$(sql_tool --database "$database" create-database 2>&1)"; then
    if [[ "$output" != *"already exists"* ]]; then
      echo "create database $database on $POSTGRES_SEEDS:$port failed: $output" >&2
      exit 1
    fi
  fi
  sql_tool --database "$database" setup-schema --version 0.0
  sql_tool --database "$database" update-schema --schema-dir "$schema_root/$schema/versioned"
  echo "database $database on $POSTGRES_SEEDS:$port is at the current $schema schema"
done
