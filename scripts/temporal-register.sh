#!/usr/bin/env bash
# Wait until a Temporal frontend is serving, create the namespace if it is missing,
# and register kboot's search attributes. Safe to run any number of times.
#
# Used by scripts/temporal-dev.sh against the dev server and, inside the
# temporalio/admin-tools image, as docker-compose.yml's one-shot setup service.
#
#   temporal-register.sh [--address HOST:PORT] [--namespace NAME] [--wait SECONDS]
#
# Environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE
# (default "default"), KBOOT_NAMESPACE_RETENTION (closed-workflow retention for a
# namespace this script creates, default 30d).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

address="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${KBOOT_NAMESPACE_RETENTION:-30d}"
wait_seconds=60

while (($# > 0)); do
  case "$1" in
    --address) address="${2:?--address needs HOST:PORT}"; shift 2 ;;
    --namespace) namespace="${2:?--namespace needs a name}"; shift 2 ;;
    --wait) wait_seconds="${2:?--wait needs a number of seconds}"; shift 2 ;;
    *) kboot_die "unknown argument '$1'; usage: temporal-register.sh [--address HOST:PORT] [--namespace NAME] [--wait SECONDS]" ;;
  esac
done
[[ "$wait_seconds" =~ ^[0-9]+$ ]] || kboot_die "--wait must be a whole number of seconds, got '$wait_seconds'"

temporal_bin="$(kboot_temporal_bin)" ||
  kboot_die "temporal CLI not found on PATH or in $KBOOT_CACHE/bin; run scripts/ensure-deps.sh"

# Every call names the server explicitly and has its own time bound, so a
# temporal.yaml or TEMPORAL_* profile on this machine cannot redirect it or hang it.
temporal_cli() {
  "$temporal_bin" "$@" --address "$address" --command-timeout 10s
}

deadline=$((SECONDS + wait_seconds))
until health="$(temporal_cli operator cluster health 2>&1)" && [[ "$health" == *SERVING* ]]; do
  if ((SECONDS >= deadline)); then
    kboot_die "Temporal at $address is not serving after ${wait_seconds}s (last response: ${health:-none}); check that the server is running and the address is right"
  fi
  sleep 1
done

if ! describe="$(temporal_cli operator namespace describe --namespace "$namespace" 2>&1)"; then
  if [[ "$describe" != *"not found"* && "$describe" != *NotFound* ]]; then
    kboot_die "describe namespace '$namespace' at $address failed: $describe"
  fi
  echo "creating namespace $namespace (retention $retention) at $address"
  temporal_cli operator namespace create --namespace "$namespace" --retention "$retention" >/dev/null
fi

create_args=()
for attribute in "${KBOOT_SEARCH_ATTRIBUTES[@]}"; do
  create_args+=(--name "${attribute%%=*}" --type "${attribute#*=}")
done

# A namespace created a moment ago may not be visible to every frontend yet, so
# the first calls can fail with "namespace not found" and are retried. The CLI's
# create is idempotent: it fails only on a name that exists with another type.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if output="$(temporal_cli operator search-attribute create --namespace "$namespace" "${create_args[@]}" 2>&1)"; then
    break
  fi
  if [[ "$output" == *"different type"* || "$attempt" == 10 ]]; then
    kboot_die "register search attributes ${KBOOT_SEARCH_ATTRIBUTES[*]} in namespace '$namespace' at $address failed: $output"
  fi
  sleep 2
done

listing="$(temporal_cli operator search-attribute list --namespace "$namespace" --output json)"
for attribute in "${KBOOT_SEARCH_ATTRIBUTES[@]}"; do
  name="${attribute%%=*}"
  grep -q "\"$name\"" <<<"$listing" ||
    kboot_die "search attribute $name is missing from namespace '$namespace' at $address after registration; listing: $listing"
done
