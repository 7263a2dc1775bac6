/** Text views of a rollout for the terminal: progress per phase, per host and per gate, and the summary. */
import type { StepId } from '../plan/index.js';
import type { RolloutResult, RolloutState } from '../workflows/definitions.js';
import { currentStep, phaseCounts } from './progress.js';

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

/** The full progress view, one line per phase, host and gate. */
export function renderProgress(cluster: string, state: RolloutState, now: number): string[] {
  const lines = [`rollout ${cluster}: ${state.phase}, ${formatDuration((state.finishedAt ?? now) - state.startedAt)}`];
  lines.push('phases:');
  for (const entry of phaseCounts(state)) {
    const extra = [entry.running ? `${entry.running} running` : '', entry.failed ? `${entry.failed} failed` : ''].filter(Boolean).join(', ');
    lines.push(`  ${entry.phase.padEnd(10)} [${bar(entry.done, entry.total)}] ${entry.done}/${entry.total}${extra ? ` (${extra})` : ''}`);
  }
  lines.push('hosts:');
  const width = Math.max(...Object.keys(state.hosts).map((name) => name.length));
  for (const [name, host] of Object.entries(state.hosts)) {
    const { step, since } = currentStep(host);
    let detail = '';
    if (host.status === 'failed' && host.failure) detail = `${host.failure.step}: ${host.failure.error.split('\n')[0]}`;
    else if (host.status === 'running' && step) detail = `${step}${since ? ` ${formatDuration(now - since)}` : ''}`;
    else if (host.status === 'waiting' && step) detail = `${step} waits for a gate`;
    lines.push(`  ${name.padEnd(width)}  ${host.status.padEnd(7)}  ${detail}`.trimEnd());
  }
  lines.push('gates:');
  for (const [gate, gateState] of Object.entries(state.gates)) {
    if (!gateState) continue;
    const error = gateState.status === 'failed' && gateState.error ? `: ${gateState.error.split('\n')[0]}` : '';
    lines.push(`  ${gate.padEnd(15)}  ${gateState.status}${error}`);
  }
  return lines;
}

/** One line per change between two snapshots, for logs and non-terminal output. */
export function renderChanges(previous: RolloutState | undefined, state: RolloutState): string[] {
  const lines: string[] = [];
  for (const [name, host] of Object.entries(state.hosts)) {
    for (const [step, stepState] of Object.entries(host.steps) as Array<[StepId, NonNullable<RolloutState['hosts'][string]['steps'][StepId]>]>) {
      const before = previous?.hosts[name]?.steps[step]?.status;
      if (!stepState || stepState.status === before || stepState.status === 'pending') continue;
      const took = stepState.startedAt && stepState.finishedAt ? ` in ${formatDuration(stepState.finishedAt - stepState.startedAt)}` : '';
      if (stepState.status === 'running') lines.push(`${name}: ${step} started`);
      else if (stepState.status === 'done') lines.push(`${name}: ${step} ${stepState.outcome === 'skipped' ? 'already done, skipped' : stepState.outcome ?? 'done'}${took}`);
      else if (stepState.status === 'failed') lines.push(`${name}: ${step} failed: ${(stepState.error ?? '').split('\n')[0]}`);
      else if (stepState.status === 'skipped') lines.push(`${name}: ${step} skipped by the operator`);
    }
  }
  for (const [gate, gateState] of Object.entries(state.gates)) {
    if (!gateState || gateState.status === previous?.gates[gate as keyof RolloutState['gates']]?.status) continue;
    if (gateState.status === 'open') lines.push(`gate ${gate}: open`);
    else if (gateState.status === 'failed') lines.push(`gate ${gate} failed: ${(gateState.error ?? '').split('\n')[0]}`);
    else if (gateState.status === 'running') lines.push(`gate ${gate}: checking on ${gateState.runsOn}`);
  }
  if (previous && previous.phase !== state.phase) lines.push(`rollout: ${state.phase}`);
  return lines;
}

export function renderSummary(cluster: string, result: RolloutResult): string[] {
  const { applied, skipped, repaired, failed } = result.counts;
  const lines = [`rollout ${cluster} ${result.phase}: ${applied} steps applied, ${skipped} already done (skipped), ${repaired} repaired after drift, ${failed} failed`];
  for (const [name, host] of Object.entries(result.hosts)) {
    if (host.status === 'failed' && host.failure) lines.push(`  ${name}: failed at ${host.failure.step}: ${host.failure.error.split('\n')[0]}`);
    if (host.status === 'skipped') lines.push(`  ${name}: skipped by the operator`);
  }
  return lines;
}
