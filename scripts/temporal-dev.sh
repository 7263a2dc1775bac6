#!/usr/bin/env bash
# Run a Temporal dev server (`temporal server start-dev`) in the background, bound to
# 127.0.0.1, with its history in SQLite so a restart keeps every workflow.
#
#   temporal-dev.sh start|stop|status [--port N]
#
# --port sets the frontend gRPC port (default 7233); the web UI listens on port+1000.
# Files, per port, under $KBOOT_STATE (default ~/.local/state/kboot):
#   temporal-<port>.db   SQLite database    temporal-<port>.pid   server pid
#   temporal-<port>.log  server output
# Exit codes: 0 done (status: running and serving), 1 failed, 3 status: not running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: temporal-dev.sh start|stop|status [--port N]"
command="${1:-}"
[[ -n "$command" ]] || kboot_die "$usage"
shift

port=7233
while (($# > 0)); do
  case "$1" in
    --port) port="${2:-}"; shift 2 || kboot_die "--port needs a number; $usage" ;;
    *) kboot_die "unknown argument '$1'; $usage" ;;
  esac
done
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1024 || port > 64535)); then
  kboot_die "--port must be a number from 1024 to 64535 (the UI takes port+1000), got '$port'"
fi

ui_port=$((port + 1000))
address="127.0.0.1:$port"
db_file="$KBOOT_STATE/temporal-$port.db"
pid_file="$KBOOT_STATE/temporal-$port.pid"
log_file="$KBOOT_STATE/temporal-$port.log"
start_timeout=60
stop_grace=20

# Print the pid of this port's dev server, or return 1 if it is not running.
running_pid() {
  local pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(<"$pid_file")"
  kboot_pid_matches "$pid" "server start-dev" "--port $port" || return 1
  echo "$pid"
}

is_serving() {
  local temporal_bin health
  temporal_bin="$(kboot_temporal_bin)" || return 1
  health="$("$temporal_bin" operator cluster health --address "$address" --command-timeout 5s 2>/dev/null)" || return 1
  [[ "$health" == *SERVING* ]]
}

# Print who listens on a TCP port of 127.0.0.1, as ss shows it.
port_owner() {
  ss -Hltnp "( sport = :$1 )" 2>/dev/null | head -n 1 | tr -s " "
}

start() {
  local temporal_bin pid
  temporal_bin="$(kboot_temporal_bin)" ||
    kboot_die "temporal CLI not found on PATH or in $KBOOT_CACHE/bin; run scripts/ensure-deps.sh"
  mkdir -p "$KBOOT_STATE"

  if pid="$(running_pid)"; then
    echo "Temporal dev server already running on $address (pid $pid)"
  else
    rm -f "$pid_file"
    local owner
    for owner_port in "$port" "$ui_port"; do
      owner="$(port_owner "$owner_port")"
      [[ -z "$owner" ]] ||
        kboot_die "port $owner_port is already in use ($owner); stop that process or pick another --port"
    done

    # The server checks temporal.io for new releases unless told not to: the dynamic
    # config value turns the check off and TEMPORAL_VERSION_CHECK_DISABLED makes off
    # its default. test/infra/temporal-dev.test.ts checks that no socket leaves loopback.
    # setsid keeps the server out of the caller's process group, so the caller's
    # Ctrl-C reaches it only through `stop`, which shuts it down in order.
    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) start on $address, UI port $ui_port" >>"$log_file"
    TEMPORAL_VERSION_CHECK_DISABLED=1 setsid "$temporal_bin" server start-dev \
      --ip 127.0.0.1 \
      --port "$port" \
      --ui-port "$ui_port" \
      --db-filename "$db_file" \
      --dynamic-config-value frontend.enableServerVersionCheck=false \
      --log-format json \
      </dev/null >>"$log_file" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"

    local deadline=$((SECONDS + start_timeout))
    until is_serving; do
      if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pid_file"
        tail -n 20 "$log_file" >&2
        kboot_die "Temporal dev server exited during start-up; see $log_file"
      fi
      if ((SECONDS >= deadline)); then
        tail -n 20 "$log_file" >&2
        kboot_stop_pid "$pid" "$stop_grace" "Temporal dev server" || true
        rm -f "$pid_file"
        kboot_die "Temporal dev server on $address did not become healthy within ${start_timeout}s; see $log_file"
      fi
      sleep 0.5
    done
    echo "Temporal dev server started on $address (pid $pid)"
  fi

  bash "$KBOOT_REPO/scripts/temporal-register.sh" --address "$address" --namespace default --wait "$start_timeout"
  echo "Web UI: http://127.0.0.1:$ui_port  database: $db_file  log: $log_file"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pid_file"
    echo "Temporal dev server on $address is not running"
    return 0
  fi
  kboot_stop_pid "$pid" "$stop_grace" "Temporal dev server" ||
    kboot_die "could not stop the Temporal dev server (pid $pid); stop it by hand"
  rm -f "$pid_file"
  echo "Temporal dev server on $address stopped (pid $pid)"
}

status() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "Temporal dev server on $address: not running"
    exit 3
  fi
  if is_serving; then
    echo "Temporal dev server on $address: serving (pid $pid), web UI http://127.0.0.1:$ui_port, log $log_file"
    exit 0
  fi
  echo "Temporal dev server on $address: running (pid $pid) but not serving; see $log_file"
  exit 1
}

case "$command" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) kboot_die "unknown command '$command'; $usage" ;;
esac
