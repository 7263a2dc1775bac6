/** The step activity: one step on one host, run as one script (check, apply, verify, checkpoint). */
import { createHash } from 'node:crypto';
import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
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

/**
 * Largest clock difference preflight accepts between a host and the worker. etcd and the API
 * server compare lease and token times across hosts, and TLS certificates fail beyond a few
 * minutes; 30 s leaves room for the round trip while catching a host without time sync.
 */
export const MAX_CLOCK_SKEW_SECONDS = 30;

/** Fails preflight when the host's clock, printed at the start of the script, is off. */
function checkClockSkew(host: string, stdout: string, sentAt: number, receivedAt: number): void {
  const match = /^kboot: clock (\d+)$/m.exec(stdout);
  if (!match) return;
  const remote = Number(match[1]) * 1000;
  const skew = remote < sentAt - 1000 ? sentAt - remote : remote > receivedAt + 1000 ? remote - receivedAt : 0;
  if (skew / 1000 > MAX_CLOCK_SKEW_SECONDS) {
    throw ApplicationFailure.nonRetryable(
      `preflight on ${host}: clock is ${Math.round(skew / 1000)}s off the worker's (at most ${MAX_CLOCK_SKEW_SECONDS}s allowed); start time sync (chronyd or ntpd) on the host`,
      'ClockSkew',
    );
  }
}

export async function runStep(pool: SshPool, input: StepActivityInput): Promise<StepActivityResult> {
  const { rendering } = input;
  const started = Date.now();
  const endpoint = sshEndpoint(input.ssh, rendering.host, input.address, input.hostSsh);
  const body = stepScript(rendering, { fingerprint: fingerprint(rendering), kbootVersion: input.kbootVersion });
  const script = rendering.step === 'preflight' ? `echo "kboot: clock $(date +%s)"\n${body}` : body;
  const verifyMs = rendering.verify.reduce((total, probe) => total + probe.timeoutSeconds * 1000, 0);
  const result = await runRemote(pool, endpoint, script, {
    action: `${rendering.step} on ${rendering.host}`,
    timeoutMs: verifyMs + SCRIPT_SLACK_MS,
    // Preflight reads the host as it is; what it finds wrong stays wrong until someone fixes the
    // host, so its findings go to the operator at once instead of after every retry.
    isFinal: (failed) => rendering.step === 'preflight' && failed.exitCode === 1 && /^preflight: /m.test(failed.stderr),
  });
  if (rendering.step === 'preflight') checkClockSkew(rendering.host, result.stdout, started, Date.now());
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
