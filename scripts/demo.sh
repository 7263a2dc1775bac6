#!/usr/bin/env bash
# Bootstrap a Kubernetes cluster on a local 4-host sandbox fleet with kboot: `npm run demo`.
#
#   scripts/demo.sh [up]   install, build, bring up the fleet, the Temporal dev server
#                          and a kboot worker, then run `kboot apply` in the foreground
#                          and exit with its code
#   scripts/demo.sh down   stop the worker and the dev server, remove the fleet
#
# The dev server keeps its history in $KBOOT_STATE (default ~/.local/state/kboot), so
# running `up` again resumes the same rollout, and `down` keeps that history.
# The worker's pid, build fingerprint and log are in the same folder.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KBOOT_REPO"

# The demo always talks to its own dev server, whatever this shell points at.
export TEMPORAL_ADDRESS=127.0.0.1:7233
export TEMPORAL_NAMESPACE=default
export KBOOT_TASK_QUEUE=kboot
export KBOOT_UI_URL=http://127.0.0.1:8233

fleet_name=sandbox
fleet_hosts=4
workflow_url="$KBOOT_UI_URL/namespaces/$TEMPORAL_NAMESPACE/workflows/kboot-$fleet_name"
worker_pid_file="$KBOOT_STATE/worker.pid"
worker_build_file="$KBOOT_STATE/worker.build"
worker_log="$KBOOT_STATE/worker.log"
worker_stop_grace=30

# Print the running worker's pid, or return 1 if none runs.
worker_pid() {
  local pid
  [[ -f "$worker_pid_file" ]] || return 1
  pid="$(<"$worker_pid_file")"
  kboot_pid_matches "$pid" "dist/client/cli.js" "worker" || return 1
  echo "$pid"
}

# Print a hash of every file under dist/, which changes with every rebuild that changes output.
build_fingerprint() {
  find dist -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d ' ' -f 1
}

stop_worker() {
  local pid
  if pid="$(worker_pid)"; then
    if ! kboot_stop_pid "$pid" "$worker_stop_grace" "kboot worker"; then
      echo "could not stop the kboot worker (pid $pid); stop it by hand" >&2
      return 1
    fi
    echo "kboot worker stopped (pid $pid)"
  fi
  rm -f "$worker_pid_file" "$worker_build_file"
}

start_worker() {
  local fingerprint pid i
  fingerprint="$(build_fingerprint)"
  if pid="$(worker_pid)"; then
    if [[ -f "$worker_build_file" && "$(<"$worker_build_file")" == "$fingerprint" ]]; then
      echo "kboot worker already running this build (pid $pid, log $worker_log)"
      return 0
    fi
    echo "kboot worker (pid $pid) runs an older build; restarting it"
    stop_worker || exit 1
  fi

  mkdir -p "$KBOOT_STATE"
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) start worker for $TEMPORAL_ADDRESS, task queue $KBOOT_TASK_QUEUE" >>"$worker_log"
  # setsid: the worker outlives this script and a Ctrl-C on `apply` does not stop it.
  setsid node dist/client/cli.js worker </dev/null >>"$worker_log" 2>&1 &
  pid=$!
  echo "$pid" >"$worker_pid_file"
  echo "$fingerprint" >"$worker_build_file"

  # Catches a worker that exits at once, for example on a bad TEMPORAL_ADDRESS. A
  # later failure shows only in the worker log.
  for ((i = 0; i < 30; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$worker_pid_file" "$worker_build_file"
      tail -n 20 "$worker_log" >&2
      kboot_die "kboot worker exited during start-up; see $worker_log"
    fi
    sleep 0.1
  done
  echo "kboot worker started (pid $pid, log $worker_log)"
}

print_next_steps() {
  cat <<EOF

Watch the rollout:  $workflow_url
                    node dist/client/cli.js status $fleet_name --watch
Worker log:         $worker_log
Stop everything:    scripts/demo.sh down   (worker, Temporal dev server, sandbox fleet)
EOF
}

up() {
  bash scripts/ensure-deps.sh
  npm run --silent build || kboot_die "build failed: npm run build exited non-zero; fix the errors above"

  local fleet_output spec
  fleet_output="$(mktemp -t kboot-fleet.XXXXXX)"
  # The fleet CLI prints progress on stderr and the cluster spec path on stdout.
  if ! node dist/sandbox/fleet/cli.js up --hosts "$fleet_hosts" --name "$fleet_name" | tee "$fleet_output"; then
    rm -f "$fleet_output"
    kboot_die "sandbox fleet up failed; see the output above, then run scripts/demo.sh down before retrying"
  fi
  spec="$(grep -v '^[[:space:]]*$' "$fleet_output" | tail -n 1 || true)"
  rm -f "$fleet_output"
  [[ -f "$spec" ]] || kboot_die "sandbox fleet up did not print a cluster spec path as its last line (got '$spec')"

  bash scripts/temporal-dev.sh start
  start_worker
  print_next_steps
  echo

  # Ctrl-C stops only the `apply` client: the rollout goes on in Temporal, so the
  # script still prints where to watch it before it exits.
  local status=0
  trap ':' INT
  node dist/client/cli.js apply "$spec" || status=$?
  trap - INT
  print_next_steps
  exit "$status"
}

down() {
  local failed=0
  stop_worker || failed=1
  bash scripts/temporal-dev.sh stop || failed=1
  if [[ -f dist/sandbox/fleet/cli.js ]]; then
    node dist/sandbox/fleet/cli.js down --name "$fleet_name" || failed=1
  else
    echo "dist/sandbox/fleet/cli.js is missing, so the sandbox fleet was not removed; run npm run build, then scripts/demo.sh down" >&2
    failed=1
  fi
  ((failed == 0)) || kboot_die "some parts did not stop; see the messages above"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) kboot_die "unknown command '$1'; usage: demo.sh [up|down]" ;;
esac
