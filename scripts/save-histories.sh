#!/usr/bin/env bash
# Save the latest run of a cluster's rollout workflow and of each of its host runs as JSON
# histories, for the replay tests that catch non-deterministic workflow changes.
#
#   scripts/save-histories.sh CLUSTER DIR [PREFIX]
#
# Reads TEMPORAL_ADDRESS (default 127.0.0.1:7233). Files are named PREFIX-<workflow id>.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cluster=${1:?usage: save-histories.sh CLUSTER DIR [PREFIX]}
dir=${2:?usage: save-histories.sh CLUSTER DIR [PREFIX]}
prefix=${3:-$cluster}
address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
temporal=$(kboot_temporal_bin)
mkdir -p "$dir"

ids=$("$temporal" workflow list --address "$address" --limit 500 -o json \
  --query "WorkflowId STARTS_WITH 'kboot-$cluster'" | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
    const seen = new Set(rows.map((row) => row.execution.workflowId));
    console.log([...seen].sort().join("\n"));')
for id in $ids; do
  "$temporal" workflow show --address "$address" -w "$id" -o json >"$dir/$prefix-$id.json"
  echo "saved $dir/$prefix-$id.json"
done
