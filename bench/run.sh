#!/usr/bin/env bash
# kboot against Ansible on the same sandbox fleets: `npm run bench [-- --sizes 10,50]`.
#
# Builds kboot and the benchmark, starts a Temporal dev server of its own on
# 127.0.0.1:$KBOOT_BENCH_PORT (default 8133, web UI on the port + 1000) with a fresh
# database in /dev/shm, runs dist/bench/bench.js with the arguments given, then stops
# the server and removes its database. Needs root (the sandbox fleet) and Debian's
# ansible; 10 and 50 hosts take about 35 minutes on 2 cores.
#
# The database is in memory because the dev server's SQLite syncs every write to disk:
# on a shared virtual disk that alone made a 50-host rollout take about twice as long,
# which measures the disk rather than kboot. A production Temporal server keeps its
# history in PostgreSQL, MySQL or Cassandra (docker-compose.yml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$KBOOT_REPO"

port="${KBOOT_BENCH_PORT:-8133}"
[[ "$port" =~ ^[0-9]+$ ]] || kboot_die "KBOOT_BENCH_PORT must be a port number, got '$port'"
command -v ansible-playbook >/dev/null ||
  kboot_die "ansible-playbook not found; install Debian's ansible (scripts/ensure-deps.sh installs it)"

bash scripts/ensure-deps.sh
npm run --silent build
npx tsc -p bench/tsconfig.json

memory_dir=/dev/shm
[[ -d "$memory_dir" && -w "$memory_dir" ]] || memory_dir="${TMPDIR:-/tmp}"
server_state="$(mktemp -d "$memory_dir/kboot-bench.XXXXXX")"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  KBOOT_STATE="$server_state" bash scripts/temporal-dev.sh stop --port "$port" >/dev/null || status=1
  rm -rf "$server_state"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

KBOOT_STATE="$server_state" bash scripts/temporal-dev.sh start --port "$port" >/dev/null

TEMPORAL_ADDRESS="127.0.0.1:$port" KBOOT_UI_URL="http://127.0.0.1:$((port + 1000))" \
  node dist/bench/bench.js "$@"
