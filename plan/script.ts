/**
 * Turns a step rendering into the one bash script that runs it on the host: check the checkpoint
 * marker, apply what differs, verify, write the marker. One script means one SSH round trip per
 * step, and a re-run whose marker and verification hold costs a single short command.
 *
 * The script reports to the worker with `kboot: <event> <value>` lines on stdout.
 */
import { heredocDelimiter, quote } from './shell.js';
import type { ManagedBlock, ManagedFile, Probe, StepRendering, UnitAction } from './types.js';

/** Where a host keeps its checkpoint markers, one JSON file per step. */
export const MARKER_DIR = '/var/lib/kboot/steps';

export function markerPath(step: string): string {
  return `${MARKER_DIR}/${step}.json`;
}

export type StepOutcome = 'skipped' | 'applied' | 'repaired';

export interface ScriptOptions {
  /** Fingerprint of the rendering; the marker records it. */
  fingerprint: string;
  /** Stored in the marker for the operator's benefit. */
  kbootVersion: string;
  /** Ignore the marker and apply (the step's checks still skip what is in place). */
  force?: boolean;
  /** Marker folder on the host; MARKER_DIR unless a test puts it elsewhere. */
  markerDir?: string;
}

const PRELUDE = `set -uo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
changed=()
kboot_fail() { echo "kboot: failed $*" >&2; exit 1; }
kboot_file() {
  local path=$1 mode=$2 tmp
  mkdir -p "$(dirname "$path")" || kboot_fail "create directory for $path"
  tmp=$(mktemp "$path.kboot.XXXXXX") || kboot_fail "create temporary file next to $path"
  cat > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "\${mode#0}" ]; then
    rm -f "$tmp"
    return 0
  fi
  chmod "$mode" "$tmp" && mv -f "$tmp" "$path" || kboot_fail "write $path"
  changed+=("$path")
  echo "kboot: changed $path"
}
kboot_block() {
  local path=$1 marker=$2 tmp
  tmp=$(mktemp) || kboot_fail "create temporary file for $path"
  { [ -f "$path" ] && awk -v b="# BEGIN $marker" -v e="# END $marker" '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$path"
    echo "# BEGIN $marker"; cat; echo "# END $marker"; } > "$tmp.new"
  if [ -f "$path" ] && cmp -s "$tmp.new" "$path"; then rm -f "$tmp" "$tmp.new"; return 0; fi
  # Written in place rather than renamed: /etc/hosts is often a bind mount.
  cat "$tmp.new" > "$path" || kboot_fail "write $path"
  rm -f "$tmp" "$tmp.new"
  changed+=("$path")
  echo "kboot: changed $path"
}
kboot_same() {
  local path=$1 mode=$2
  [ -f "$path" ] && [ "$(stat -c %a "$path")" = "\${mode#0}" ] && cmp -s - "$path"
}
kboot_block_same() {
  local path=$1 marker=$2 expected
  expected=$(cat)
  [ -f "$path" ] && [ "$(awk -v b="# BEGIN $marker" -v e="# END $marker" '$0==b{inside=1;next} $0==e{inside=0} inside' "$path")" = "$expected" ]
}
kboot_changed() {
  local wanted path
  for wanted in "$@"; do
    for path in "\${changed[@]}"; do [ "$path" = "$wanted" ] && return 0; done
  done
  return 1
}
kboot_wait() {
  local description=$1 timeout=$2 interval=$3 probe=$4 deadline output
  deadline=$((SECONDS + timeout))
  while true; do
    output=$("$probe" 2>&1) && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "kboot: verify failed: $description" >&2
      [ -n "$output" ] && echo "$output" >&2
      return 1
    fi
    sleep "$interval"
  done
}`;

function fileCommand(file: ManagedFile): string {
  const delimiter = heredocDelimiter(file.content);
  return `kboot_file ${quote(file.path)} ${quote(file.mode)} <<'${delimiter}'\n${file.content.replace(/\n$/, '')}\n${delimiter}`;
}

function blockCommand(block: ManagedBlock): string {
  const delimiter = heredocDelimiter(block.content);
  return `kboot_block ${quote(block.path)} ${quote(block.marker)} <<'${delimiter}'\n${block.content}\n${delimiter}`;
}

function unitCommand(action: UnitAction): string {
  const unit = quote(action.unit);
  const changedFiles = action.readsFiles.map(quote).join(' ');
  const stale = action.restartUnless ? ` || ! ${action.restartUnless}` : '';
  const start = action.noBlock ? `systemctl start --no-block ${unit}` : `systemctl start ${unit}`;
  return `if systemctl is-active --quiet ${unit}; then
  if kboot_changed ${changedFiles}${stale}; then
    systemctl restart ${unit} || kboot_fail "restart ${action.unit}"
    echo "kboot: restarted ${action.unit}"
  fi
else
  ${start} || kboot_fail "start ${action.unit}"
  echo "kboot: started ${action.unit}"
fi
systemctl is-enabled --quiet ${unit} || systemctl enable ${unit} >/dev/null 2>&1 || kboot_fail "enable ${action.unit}"`;
}

/** Each probe is a function whose body runs in a subshell, so an `exit` in it ends only the probe. */
/** A function that exits 0 when every file and block the step owns has its rendered content. */
function filesHoldFunction(rendering: StepRendering): string {
  const checks = [
    ...rendering.files.map((file) => {
      const delimiter = heredocDelimiter(file.content);
      return `kboot_same ${quote(file.path)} ${quote(file.mode)} <<'${delimiter}' || { echo "kboot: differs ${file.path}"; return 1; }\n${file.content.replace(/\n$/, '')}\n${delimiter}`;
    }),
    ...rendering.blocks.map((block) => {
      const delimiter = heredocDelimiter(block.content);
      return `kboot_block_same ${quote(block.path)} ${quote(block.marker)} <<'${delimiter}' || { echo "kboot: differs ${block.path}"; return 1; }\n${block.content}\n${delimiter}`;
    }),
  ];
  return `kboot_files_hold() {\n${checks.join('\n')}\n${checks.length === 0 ? 'true\n' : ''}}`;
}

function probeFunctions(probes: Probe[]): string {
  return probes.map((probe, index) => `kboot_probe_${index}() (\n${probe.script}\n)`).join('\n');
}

/** Runs every probe once; used to decide whether a step whose marker matches still holds. */
function probesHold(probes: Probe[]): string {
  if (probes.length === 0) return 'true';
  return probes.map((_, index) => `kboot_probe_${index} >/dev/null 2>&1`).join(' && ');
}

function probesWait(probes: Probe[]): string {
  return probes
    .map((probe, index) => `kboot_wait ${quote(probe.description)} ${probe.timeoutSeconds} ${probe.intervalSeconds} kboot_probe_${index} || exit 1`)
    .join('\n');
}

function markerJson(rendering: StepRendering, options: ScriptOptions): string {
  return JSON.stringify({ step: rendering.step, host: rendering.host, fingerprint: options.fingerprint, kbootVersion: options.kbootVersion });
}

/** The whole step as one script; exits non-zero with `kboot: failed ...` on stderr when it fails. */
export function stepScript(rendering: StepRendering, options: ScriptOptions): string {
  const markerDir = options.markerDir ?? MARKER_DIR;
  const marker = `${markerDir}/${rendering.step}.json`;
  const unitFiles = rendering.files.filter((file) => file.path.startsWith('/etc/systemd/')).map((file) => quote(file.path));
  const parts = [
    PRELUDE,
    probeFunctions(rendering.verify),
    filesHoldFunction(rendering),
    `marker=${quote(marker)}`,
    `fingerprint=${quote(options.fingerprint)}`,
    `recorded=$(sed -n 's/.*"fingerprint":"\\([^"]*\\)".*/\\1/p' "$marker" 2>/dev/null)`,
    options.force ? 'recorded=' : '',
    `if [ "$recorded" = "$fingerprint" ]; then
  if kboot_files_hold && ${probesHold(rendering.verify)}; then echo "kboot: result skipped"; exit 0; fi
  echo "kboot: drift marker matches but the host differs from it"
  outcome=repaired
else
  outcome=applied
fi`,
    ...rendering.files.map(fileCommand),
    ...rendering.blocks.map(blockCommand),
    unitFiles.length > 0 ? `if kboot_changed ${unitFiles.join(' ')}; then systemctl daemon-reload || kboot_fail "systemctl daemon-reload"; fi` : '',
    ...rendering.ensures.map(
      (ensure) => `if ! ( ${ensure.check} ); then
  echo "kboot: ensure ${ensure.description.replace(/[^A-Za-z0-9 ._,/=-]/g, '')}"
  ${ensure.apply} || kboot_fail ${quote(ensure.description)}
fi`,
    ),
    ...rendering.units.map(unitCommand),
    probesWait(rendering.verify),
    `mkdir -p ${quote(markerDir)} && printf '%s\\n' ${quote(markerJson(rendering, options))} > "$marker.tmp" && mv -f "$marker.tmp" "$marker" || kboot_fail "write checkpoint marker $marker"`,
    'echo "kboot: result $outcome"',
  ];
  return parts.filter((part) => part !== '').join('\n') + '\n';
}

/** Parses the `kboot: ...` lines a step script printed. */
export function parseStepReport(stdout: string): { outcome?: StepOutcome; changed: string[]; started: string[]; restarted: string[]; drift: boolean } {
  const report = { outcome: undefined as StepOutcome | undefined, changed: [] as string[], started: [] as string[], restarted: [] as string[], drift: false };
  for (const line of stdout.split('\n')) {
    const match = /^kboot: (\w+) (.*)$/.exec(line);
    if (!match) continue;
    const [, event, value] = match;
    if (event === 'result' && (value === 'skipped' || value === 'applied' || value === 'repaired')) report.outcome = value;
    else if (event === 'changed') report.changed.push(value);
    else if (event === 'started') report.started.push(value);
    else if (event === 'restarted') report.restarted.push(value);
    else if (event === 'drift') report.drift = true;
  }
  return report;
}

/**
 * Builds a read-only script that reports a step's state without changing the host: the fingerprint
 * its marker records and whether each probe passes now.
 */
export function checkScript(rendering: StepRendering, markerDir = MARKER_DIR): string {
  const marker = `${markerDir}/${rendering.step}.json`;
  const probes = rendering.verify
    .map((probe, index) => `if kboot_probe_${index} >/dev/null 2>&1; then echo "kboot: probe ok ${index}"; else echo "kboot: probe failed ${index}"; fi`)
    .join('\n');
  return [
    PRELUDE,
    probeFunctions(rendering.verify),
    filesHoldFunction(rendering),
    'kboot_files_hold || true',
    `recorded=$(sed -n 's/.*"fingerprint":"\\([^"]*\\)".*/\\1/p' ${quote(marker)} 2>/dev/null)`,
    'echo "kboot: marker ${recorded:-none}"',
    probes,
  ]
    .filter(Boolean)
    .join('\n') + '\n';
}

export type StepCondition = 'in-place' | 'not-applied' | 'changed' | 'drift';

/** Reads what a check script printed: in place, never applied, inputs changed, or drifted. */
export function parseCheckReport(stdout: string, rendering: StepRendering, fingerprint: string): { condition: StepCondition; failedProbes: string[] } {
  const recorded = /^kboot: marker (\S+)$/m.exec(stdout)?.[1] ?? 'none';
  const failedProbes = [
    ...[...stdout.matchAll(/^kboot: differs (.+)$/gm)].map((match) => `${match[1]} differs from the spec`),
    ...[...stdout.matchAll(/^kboot: probe failed (\d+)$/gm)].map((match) => rendering.verify[Number(match[1])]?.description ?? `probe ${match[1]}`),
  ];
  if (recorded === 'none') return { condition: 'not-applied', failedProbes };
  if (recorded !== fingerprint) return { condition: 'changed', failedProbes };
  return { condition: failedProbes.length > 0 ? 'drift' : 'in-place', failedProbes };
}
