#!/usr/bin/env bash
# Install what kboot, its sandbox fleet and its tests need on Debian 12, as root.
# Idempotent: prints one line per thing it installs and nothing when all is there.
#
#   apt packages   installed with one `apt-get update` when any is missing
#   node_modules   `npm ci` when missing or older than package-lock.json
#   temporal CLI   from PATH, else $KBOOT_CACHE/bin/temporal, built with `go install`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_PACKAGES=(
  openssh-server openssh-client etcd-server etcd-client sudo iproute2 iptables
  procps psmisc curl docker-compose ansible tmux chromium graphviz
)

mkdir -p "$KBOOT_STATE"
log="$KBOOT_STATE/ensure-deps.log"

# Run a command with its output in the log; on failure show the log's tail and stop.
run_logged() {
  local what="$1"
  shift
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    kboot_die "$what failed (command: $*); full output in $log"
  fi
}

ensure_apt_packages() {
  local missing=() package status
  for package in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
    [[ "$status" == installed ]] || missing+=("$package")
  done
  ((${#missing[@]} > 0)) || return 0

  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || kboot_die "apt packages missing (${missing[*]}) and not root without sudo; run as root"
    sudo=(sudo)
  fi
  for package in "${missing[@]}"; do
    echo "installing apt package $package"
  done
  run_logged "apt-get update" "${sudo[@]}" apt-get update -q
  run_logged "apt-get install ${missing[*]}" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_node_modules() {
  command -v node >/dev/null || kboot_die "node not found on PATH; install Node.js 20.3 or later"
  command -v npm >/dev/null || kboot_die "npm not found on PATH; install it with Node.js 20.3 or later"
  node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit(major > 20 || (major === 20 && minor >= 3) ? 0 : 1)' ||
    kboot_die "node $(node --version) is too old; kboot needs Node.js 20.3 or later"

  # npm ci rewrites node_modules/.package-lock.json, so its mtime marks the last install.
  local stamp="$KBOOT_REPO/node_modules/.package-lock.json"
  if [[ -f "$stamp" && ! "$KBOOT_REPO/package-lock.json" -nt "$stamp" ]]; then
    return 0
  fi
  if [[ -d "$KBOOT_REPO/node_modules" ]]; then
    echo "installing node_modules with npm ci (package-lock.json is newer)"
  else
    echo "installing node_modules with npm ci"
  fi
  run_logged "npm ci" npm ci --prefix "$KBOOT_REPO" --no-audit --no-fund
}

ensure_temporal_cli() {
  kboot_temporal_bin >/dev/null && return 0

  local go
  go="$(kboot_go_bin)" ||
    kboot_die "temporal CLI not found and no Go toolchain to build it (looked on PATH and in /usr/local/go/bin); install Go 1.25 or later, or put temporal on PATH"
  mkdir -p "$KBOOT_CACHE/bin"
  echo "installing temporal CLI $KBOOT_TEMPORAL_CLI_VERSION into $KBOOT_CACHE/bin (go install, about 4 minutes)"
  # GOTOOLCHAIN=local: a Go older than the module needs must fail here, not download a toolchain.
  run_logged "go install temporal CLI" env GOBIN="$KBOOT_CACHE/bin" GOTOOLCHAIN=local \
    "$go" install "github.com/temporalio/cli/cmd/temporal@$KBOOT_TEMPORAL_CLI_VERSION"
  [[ -x "$KBOOT_CACHE/bin/temporal" ]] ||
    kboot_die "go install finished but $KBOOT_CACHE/bin/temporal is missing; see $log"
}

ensure_apt_packages
ensure_node_modules
ensure_temporal_cli
