/** Text views of a rollout for the terminal: progress per phase, per host and per gate, and the summary. */
import type { StepId } from '../plan/index.js';
import type { HostStatus, RolloutResult, RolloutState } from '../workflows/definitions.js';
import type { RolloutRecord } from './history.js';
import { type HostProgress, type PhaseProgress, rolloutProgress } from './progress.js';

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
}

/** Size of the terminal. A view with no size prints every line at full length. */
export interface ViewSize {
  columns?: number;
  rows?: number;
}

function elapsed(startedAt: number | undefined, finishedAt: number | undefined, now: number): string {
  return startedAt === undefined ? '' : formatDuration((finishedAt ?? now) - startedAt);
}

function phaseLine(entry: PhaseProgress, now: number, nameWidth: number): string {
  const counts = [
    entry.running ? `${entry.running} running` : '',
    entry.failed ? `${entry.failed} failed` : '',
    entry.waiting ? `${entry.waiting} waiting` : '',
    entry.skipped ? `${entry.skipped} skipped` : '',
  ].filter(Boolean);
  const done = `${entry.done}/${entry.total}`;
  const detail = counts.length > 0 ? counts.join(', ') : 'done';
  return `  ${entry.phase.padEnd(nameWidth)}  [${bar(entry.done + entry.skipped, entry.total)}]  ${done.padStart(7)}  ${elapsed(entry.startedAt, entry.finishedAt, now).padStart(7)}  ${detail}`;
}

/** Describes what a host is doing, for the last column of its line. */
function hostDetail(host: HostProgress): string {
  if (!host.step) return '';
  const title = host.stepTitle && host.stepTitle.toLowerCase() !== host.step ? `${host.step} (${host.stepTitle})` : host.step;
  if (host.status === 'failed') return `${title} failed: ${host.error ?? 'no error recorded'}`;
  if (host.status === 'waiting' && host.waitingFor.length > 0) return `${title} waits for gate ${host.waitingFor.join(', ')}`;
  if (host.status === 'pending') return `${title} next`;
  return title;
}

function hostElapsed(host: HostProgress, now: number): string {
  if (host.status === 'running') return elapsed(host.stepStartedAt, undefined, now);
  if (host.status === 'done') return elapsed(host.startedAt, host.finishedAt, now);
  return '';
}

/** Order in which hosts keep their line when the terminal is too short for all of them. */
const HOST_INTEREST: HostStatus[] = ['failed', 'running', 'waiting', 'pending', 'skipped', 'done'];

/** Host names to show in at most `limit` lines, most interesting first, kept in spec order. */
function visibleHosts(hosts: Record<string, HostProgress>, limit: number): string[] {
  const names = Object.keys(hosts);
  if (names.length <= limit) return names;
  const ranked = [...names].sort((a, b) => HOST_INTEREST.indexOf(hosts[a].status) - HOST_INTEREST.indexOf(hosts[b].status));
  const shown = new Set(ranked.slice(0, Math.max(0, limit)));
  return names.filter((name) => shown.has(name));
}

function hiddenHostsLine(hosts: Record<string, HostProgress>, shown: string[]): string {
  const counts = new Map<HostStatus, number>();
  for (const [name, host] of Object.entries(hosts)) {
    if (!shown.includes(name)) counts.set(host.status, (counts.get(host.status) ?? 0) + 1);
  }
  const hidden = [...counts.values()].reduce((sum, count) => sum + count, 0);
  const parts = HOST_INTEREST.filter((status) => counts.has(status)).map((status) => `${counts.get(status)} ${status}`);
  return `  ... ${hidden} more hosts: ${parts.join(', ')}`;
}

function truncate(line: string, columns: number | undefined): string {
  if (!columns || line.length <= columns) return line;
  return `${line.slice(0, Math.max(0, columns - 3))}...`;
}

/**
 * Renders the full progress view: the rollout, then one line per phase, host and gate. Given a
 * terminal size, lines are cut to its width. When the hosts do not fit its height, the failed and
 * running hosts keep their lines and the rest are counted in one line.
 */
export function renderProgress(cluster: string, state: RolloutState, now: number, size: ViewSize = {}, notice?: string): string[] {
  const progress = rolloutProgress(state);
  const header = [`rollout ${cluster}: ${state.phase}, ${formatDuration((state.finishedAt ?? now) - state.startedAt)}`];
  if (state.paused && state.phase === 'running') header[0] += ' (paused: running steps finish, nothing new starts)';
  if (state.abortReason) header.push(`  ${state.abortReason}`);

  const phaseWidth = Math.max(5, ...progress.phases.map((entry) => entry.phase.length));
  const phases = [`${'PHASE'.padEnd(phaseWidth + 2)}  ${'PROGRESS'.padEnd(22)}  ${'DONE'.padStart(7)}  ${'ELAPSED'.padStart(7)}`];
  for (const entry of progress.phases) phases.push(phaseLine(entry, now, phaseWidth));

  const gates: string[] = [];
  const gateEntries = Object.entries(progress.gates);
  if (gateEntries.length > 0) {
    const gateWidth = Math.max(...gateEntries.map(([gate]) => gate.length));
    gates.push('GATE');
    for (const [gate, entry] of gateEntries) {
      if (!entry) continue;
      let detail = '';
      if (entry.status === 'failed' && entry.error) detail = `  ${entry.error}`;
      if (entry.status === 'open' && entry.summary) detail = `  ${entry.summary}`;
      gates.push(`  ${gate.padEnd(gateWidth)}  ${entry.status.padEnd(7)}  on ${entry.runsOn}  ${elapsed(entry.startedAt, entry.finishedAt, now)}${detail}`.trimEnd());
    }
  }

  const footer = notice ? [notice] : [];
  const names = Object.keys(progress.hosts);
  const hostWidth = Math.max(4, ...names.map((name) => name.length));
  // The terminal keeps one row for the cursor below the view.
  const fixedRows = header.length + phases.length + 1 + gates.length + footer.length;
  const hostRows = size.rows ? size.rows - 1 - fixedRows : names.length;
  const shown = hostRows >= names.length ? names : visibleHosts(progress.hosts, hostRows - 1);
  const hosts = [`${'HOST'.padEnd(hostWidth + 2)}  STATUS   STEPS  ${'ELAPSED'.padStart(7)}  STEP`];
  for (const name of shown) {
    const host = progress.hosts[name];
    const steps = `${host.stepsDone}/${host.stepsTotal}`;
    hosts.push(`  ${name.padEnd(hostWidth)}  ${host.status.padEnd(7)}  ${steps.padStart(5)}  ${hostElapsed(host, now).padStart(7)}  ${hostDetail(host)}`.trimEnd());
  }
  if (shown.length < names.length) hosts.push(hiddenHostsLine(progress.hosts, shown));

  return [...header, ...phases, ...hosts, ...gates, ...footer].map((line) => truncate(line, size.columns));
}

/**
 * Renders one line per change between two snapshots, for logs and non-terminal output. Changes
 * are ordered by when they happened, since one poll can gather several.
 */
export function renderChanges(previous: RolloutState | undefined, state: RolloutState): string[] {
  const changes: Array<{ at: number; line: string }> = [];
  for (const [gate, gateState] of Object.entries(state.gates)) {
    if (!gateState || gateState.status === previous?.gates[gate as keyof RolloutState['gates']]?.status) continue;
    const at = (gateState.status === 'running' ? gateState.startedAt : gateState.finishedAt) ?? 0;
    if (gateState.status === 'open') changes.push({ at, line: gateState.degraded ? `gate ${gate}: open, degraded: ${gateState.degraded.split('\n')[0]}` : `gate ${gate}: open` });
    else if (gateState.status === 'failed') changes.push({ at, line: `gate ${gate} failed: ${(gateState.error ?? '').split('\n')[0]}` });
    else if (gateState.status === 'running') changes.push({ at, line: `gate ${gate}: checking on ${gateState.runsOn}` });
  }
  for (const [name, host] of Object.entries(state.hosts)) {
    for (const [step, stepState] of Object.entries(host.steps) as Array<[StepId, NonNullable<RolloutState['hosts'][string]['steps'][StepId]>]>) {
      const before = previous?.hosts[name]?.steps[step]?.status;
      if (!stepState || stepState.status === before || stepState.status === 'pending') continue;
      const took = stepState.startedAt && stepState.finishedAt ? ` in ${formatDuration(stepState.finishedAt - stepState.startedAt)}` : '';
      const at = (stepState.status === 'running' ? stepState.startedAt : stepState.finishedAt) ?? 0;
      if (stepState.status === 'running') changes.push({ at, line: `${name}: ${step} started` });
      else if (stepState.status === 'done') changes.push({ at, line: `${name}: ${step} ${stepState.outcome === 'skipped' ? 'already done, skipped' : stepState.outcome ?? 'done'}${took}` });
      else if (stepState.status === 'failed') changes.push({ at, line: `${name}: ${step} failed: ${(stepState.error ?? '').split('\n')[0]}` });
      else if (stepState.status === 'skipped') changes.push({ at, line: `${name}: ${step} skipped by the operator` });
    }
  }
  // Array.prototype.sort is stable, so changes at the same time keep the order above: a gate
  // opens before the steps that waited for it start.
  const lines = changes.sort((a, b) => a.at - b.at).map((change) => change.line);
  if (previous && previous.phase !== state.phase) lines.push(`rollout: ${state.phase}`);
  return lines;
}

export function renderSummary(cluster: string, result: RolloutResult): string[] {
  const { applied, skipped, repaired, failed } = result.counts;
  const steps = (count: number): string => `${count} ${count === 1 ? 'step' : 'steps'}`;
  const lines = [`rollout ${cluster} ${result.phase}: ${steps(applied)} applied, ${skipped} already done (skipped), ${repaired} repaired after drift, ${failed} failed`];
  for (const [name, host] of Object.entries(result.hosts)) {
    if (host.status === 'failed' && host.failure) lines.push(`  ${name}: failed at ${host.failure.step}: ${host.failure.error.split('\n')[0]}`);
    if (host.status === 'skipped') lines.push(`  ${name}: skipped by the operator`);
  }
  // A gate that opened with a failed health check is what makes a rollout degraded: name it.
  for (const [gate, gateState] of Object.entries(result.gates)) {
    if (gateState?.degraded) lines.push(`  gate ${gate}: opened degraded: ${gateState.degraded.split('\n')[0]}`);
  }
  return lines;
}

/** `2026-05-01 10:02:11Z`: sortable, and short enough for a table column. */
function formatTime(time: Date): string {
  return `${time.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Renders the table `kboot history` prints: one row per rollout, and the reason under a failed one. */
export function renderHistory(records: RolloutRecord[], now: number): string[] {
  const outcomeWidth = Math.max(7, ...records.map((record) => record.outcome.length));
  const lines = [
    `${'STARTED'.padEnd(20)}  ${'OUTCOME'.padEnd(outcomeWidth)}  ${'DURATION'.padStart(12)}  APPLIED  SKIPPED  REPAIRED  FAILED  HOSTS FAILED  RUN ID`,
  ];
  for (const record of records) {
    const took = formatDuration((record.closedAt?.getTime() ?? now) - record.startedAt.getTime());
    const duration = record.closedAt ? took : `${took} so far`;
    const count = (value: number | undefined, width: number): string => (value === undefined ? '-' : String(value)).padStart(width);
    const runs = record.runs > 1 ? ` (${record.runs} runs)` : '';
    lines.push(
      `${formatTime(record.startedAt)}  ${record.outcome.padEnd(outcomeWidth)}  ${duration.padStart(12)}  ` +
        `${count(record.counts?.applied, 7)}  ${count(record.counts?.skipped, 7)}  ${count(record.counts?.repaired, 8)}  ${count(record.counts?.failed, 6)}  ` +
        `${count(record.failedHosts, 12)}  ${record.runId}${runs}`,
    );
    if (record.reason) lines.push(`  ${record.reason.split('\n')[0]}`);
  }
  return lines;
}
