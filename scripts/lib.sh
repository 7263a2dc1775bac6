# Shared settings and helpers for the kboot scripts. Source it, do not run it.
#
# Environment:
#   KBOOT_CACHE  cache outside the repository that survives between CI runs
#                (default ~/.cache/kboot); the temporal CLI is built into its bin/.
#   KBOOT_STATE  pid files, logs and the dev server's SQLite databases
#                (default ~/.local/state/kboot).

KBOOT_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KBOOT_CACHE="${KBOOT_CACHE:-$HOME/.cache/kboot}"
KBOOT_STATE="${KBOOT_STATE:-$HOME/.local/state/kboot}"

# The CLI tag that still builds with `go install`: later tags carry a replace
# directive in go.mod, which `go install pkg@version` rejects.
KBOOT_TEMPORAL_CLI_VERSION="v1.5.1"

# The four search attributes kboot writes, as NAME=TYPE.
KBOOT_SEARCH_ATTRIBUTES=(
  KbootCluster=Keyword
  KbootPhase=Keyword
  KbootFailedHosts=Int
  KbootVersion=Keyword
)

kboot_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Print the path of the temporal CLI: the one on PATH, else the cached build.
# Prints nothing and returns 1 when neither exists.
kboot_temporal_bin() {
  local found
  if found="$(command -v temporal)"; then
    echo "$found"
    return 0
  fi
  if [[ -x "$KBOOT_CACHE/bin/temporal" ]]; then
    echo "$KBOOT_CACHE/bin/temporal"
    return 0
  fi
  return 1
}

# Print the path of the go tool: the one on PATH, else /usr/local/go/bin/go.
kboot_go_bin() {
  local found
  if found="$(command -v go)"; then
    echo "$found"
    return 0
  fi
  if [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
    return 0
  fi
  return 1
}

# True when PID is alive and its command line contains every further argument.
# Guards against signalling an unrelated process that reused a stale pid.
kboot_pid_matches() {
  local pid="$1" cmdline word
  shift
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  for word in "$@"; do
    [[ "$cmdline" == *"$word"* ]] || return 1
  done
}

# Send SIGTERM to PID, wait up to GRACE seconds, then SIGKILL and wait up to 5 s.
# Returns 1 if the process still exists after that.
kboot_stop_pid() {
  local pid="$1" grace="$2" name="$3" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "$name (pid $pid) did not exit within ${grace}s of SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "$name (pid $pid) is still present 5s after SIGKILL" >&2
  return 1
}
