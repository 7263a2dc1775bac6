#!/usr/bin/env bash
# Run kboot's test suite against a real Temporal dev server: `npm test`, and CI's .ci/run.
#
#   scripts/test.sh [jest arguments...]
#
# Installs what is missing (scripts/ensure-deps.sh), builds with tsc, starts a dev
# server on 127.0.0.1:7633 (web UI 8633, apart from the demo's 7233), runs jest in
# band, prints "N passed, N failed" and stops the server it started. Exits non-zero
# when the build fails, any test fails, no test ran, or jest crashed or timed out.
#
# Environment: KBOOT_TEST_BUDGET caps the whole run in seconds (default 1740, so the
# run stays under 30 minutes); KBOOT_CACHE and KBOOT_STATE as in scripts/lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KBOOT_REPO"

budget="${KBOOT_TEST_BUDGET:-1740}"
[[ "$budget" =~ ^[0-9]+$ ]] || kboot_die "KBOOT_TEST_BUDGET must be a whole number of seconds, got '$budget'"
temporal_port=7633
report_dir="$(mktemp -d -t kboot-test.XXXXXX)"
report="$report_dir/jest.json"
server_started=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$server_started" ]]; then
    bash scripts/temporal-dev.sh stop --port "$temporal_port" || status=1
  fi
  rm -rf "$report_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two runs at once would share port 7633 and one would stop the other's server.
# The lock on fd 9 is released when this shell exits however it ends. The server and
# jest get fd 9 closed, so that neither can hold the lock after this shell is gone.
mkdir -p "$KBOOT_STATE"
lock_file="$KBOOT_STATE/test-$temporal_port.lock"
exec 9>"$lock_file"
flock --nonblock 9 ||
  kboot_die "another test run holds $lock_file and uses port $temporal_port; wait for it to finish"

bash scripts/ensure-deps.sh

if ! npm run --silent build; then
  echo "build failed: npm run build exited non-zero; fix the errors above"
  echo "0 passed, 1 failed"
  exit 1
fi
# ts-jest compiles each test file alone (isolatedModules) and so checks no types; this does.
if ! npx tsc -p tsconfig.test.json; then
  echo "type check of the tests failed: npx tsc -p tsconfig.test.json exited non-zero; fix the errors above"
  echo "0 passed, 1 failed"
  exit 1
fi

# Each run starts from an empty history, so that workflow ids left by an earlier,
# interrupted run cannot collide with this run's. A server still up from such a run
# is stopped first. Marked before the start so a half-way start is still stopped.
bash scripts/temporal-dev.sh stop --port "$temporal_port" >/dev/null
rm -f "$KBOOT_STATE/temporal-$temporal_port.db" "$KBOOT_STATE/temporal-$temporal_port.db-"*
server_started=1
bash scripts/temporal-dev.sh start --port "$temporal_port" 9>&-
export TEMPORAL_ADDRESS="127.0.0.1:$temporal_port"
export TEMPORAL_NAMESPACE=default
export KBOOT_UI_URL="http://127.0.0.1:$((temporal_port + 1000))"

# Whatever the set-up used leaves the rest to jest, less a minute for the teardown.
jest_seconds=$((budget - SECONDS - 60))
((jest_seconds > 60)) || kboot_die "set-up took ${SECONDS}s of the ${budget}s budget; no time left for the tests"

# timeout runs jest in a process group of its own and signals that whole group, so
# npx, jest and what the tests start end with the run (unless a test starts its own
# session with setsid). Ctrl-C reaches
# only this shell, which passes it on as SIGTERM through timeout. That is also
# bounded: timeout sends SIGKILL 30 s after any signal it relays.
interrupted=0
timeout --kill-after=30s "${jest_seconds}s" \
  npx jest --runInBand --json --outputFile="$report" "$@" 9>&- &
jest_pid=$!
trap 'interrupted=130; kill -TERM "$jest_pid" 2>/dev/null || true' INT
trap 'interrupted=143; kill -TERM "$jest_pid" 2>/dev/null || true' TERM
jest_status=0
wait "$jest_pid" || jest_status=$?
if ((interrupted != 0)); then
  wait "$jest_pid" || true
  echo "interrupted; stopping the test run"
  exit "$interrupted"
fi
trap 'exit 130' INT
trap 'exit 143' TERM

if ((jest_status == 124 || jest_status == 137)); then
  echo "jest did not finish within ${jest_seconds}s (exit $jest_status); a test or an open handle hung"
fi

# Jest counts a suite that failed to load (syntax error, missing module) in
# numRuntimeErrorTestSuites and not in numFailedTests, so each such suite counts as
# one failure here. A run with no report or no test at all counts as one failure.
node - "$report" "$jest_status" <<'EOF'
const fs = require('node:fs');
const [reportPath, jestStatus] = process.argv.slice(2);
let passed = 0;
let failed = 0;
try {
  const result = JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  passed = result.numPassedTests;
  failed = result.numFailedTests + result.numRuntimeErrorTestSuites;
  if (result.numRuntimeErrorTestSuites > 0) {
    console.log(`jest: ${result.numRuntimeErrorTestSuites} test suite(s) failed to run`);
  }
  if (result.numTotalTests === 0) {
    console.log('jest: no test ran');
    failed = Math.max(failed, 1);
  }
} catch (error) {
  console.log(`jest wrote no readable report at ${reportPath} (exit ${jestStatus}): ${error.message}`);
  failed = Math.max(failed, 1);
}
if (jestStatus !== '0' && failed === 0) {
  console.log(`jest exited ${jestStatus} although every test passed`);
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
EOF
