/** The step activity: one step on one host, run as one script (check, apply, verify, checkpoint). */
import { createHash } from 'node:crypto';
import { log } from '@temporalio/activity';
import { parseStepReport, stepScript, type StepRendering } from '../plan/index.js';
import type { StepActivityInput, StepActivityResult } from './contract.js';
import { sshEndpoint } from './endpoint.js';
import { runRemote } from './remote.js';
import type { SshPool } from './ssh/index.js';

/** What the checkpoint marker records: a hash of exactly what the step applies. */
export function fingerprint(rendering: StepRendering): string {
  return createHash('sha256').update(JSON.stringify(rendering)).digest('hex');
}

/** Room for the script's own work on top of its verification waits. */
const SCRIPT_SLACK_MS = 5 * 60_000;

export async function runStep(pool: SshPool, input: StepActivityInput): Promise<StepActivityResult> {
  const { rendering } = input;
  const started = Date.now();
  const endpoint = sshEndpoint(input.ssh, rendering.host, input.address);
  const script = stepScript(rendering, { fingerprint: fingerprint(rendering), kbootVersion: input.kbootVersion });
  const verifyMs = rendering.verify.reduce((total, probe) => total + probe.timeoutSeconds * 1000, 0);
  const result = await runRemote(pool, endpoint, script, {
    action: `${rendering.step} on ${rendering.host}`,
    timeoutMs: verifyMs + SCRIPT_SLACK_MS,
  });
  const report = parseStepReport(result.stdout);
  if (!report.outcome) {
    throw new Error(`${rendering.step} on ${rendering.host}: the step script exited 0 without reporting its result; output: ${result.stdout.slice(-500)}`);
  }
  const outcome: StepActivityResult = {
    outcome: report.outcome,
    changed: report.changed,
    started: report.started,
    restarted: report.restarted,
    durationMs: Date.now() - started,
  };
  log.info('Step finished', { cluster: input.cluster, host: rendering.host, step: rendering.step, ...outcome });
  return outcome;
}
