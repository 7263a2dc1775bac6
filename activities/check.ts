/** The drift check activity: reads every step of one host without changing anything. */
import { findHost, renderStep, stepsForHost, checkScript, parseCheckReport, type StepCondition, type StepId } from '../plan/index.js';
import type { HostCheckInput, HostCheckResult } from './contract.js';
import { sshEndpoint } from './endpoint.js';
import { runRemote } from './remote.js';
import type { SshPool } from './ssh/index.js';
import { fingerprint } from './steps.js';

const CHECK_TIMEOUT_MS = 60_000;

export async function checkHost(pool: SshPool, input: HostCheckInput): Promise<HostCheckResult> {
  const host = findHost(input.spec, input.host);
  const endpoint = sshEndpoint(input.spec.ssh, host.name, host.address);
  const steps: HostCheckResult['steps'] = [];
  for (const step of stepsForHost(host) as StepId[]) {
    const rendering = renderStep(input.spec, step, host.name);
    const result = await runRemote(pool, endpoint, checkScript(rendering), { action: `check ${step} on ${host.name}`, timeoutMs: CHECK_TIMEOUT_MS });
    const report: { condition: StepCondition; failedProbes: string[] } = parseCheckReport(result.stdout, rendering, fingerprint(rendering));
    steps.push({ step, ...report });
  }
  return { host: host.name, steps };
}
