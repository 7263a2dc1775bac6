/**
 * A host's run of steps between two gates, in order. Each step is one activity that checks, applies,
 * verifies and writes its checkpoint marker. The run stops at the first step that exhausts its
 * retries and reports it; the rollout workflow decides what happens next.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type { KbootActivities } from '../activities/contract.js';
import { findHost, renderStep } from '../plan/index.js';
import { hostProgressQuery, type HostRunInput, type HostRunResult } from './definitions.js';

const { runStep } = proxyActivities<KbootActivities>({
  // A step's verification waits up to a few minutes for daemons to come up; a hung host is found
  // by the heartbeat timeout long before this.
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4 },
});

/** The message of the failure that ended an activity's retries or a host run, without the SDK's wrapping. */
export function failureMessage(error: unknown): string {
  let cause: unknown = error;
  // The wrappers report only that an activity or a host run failed. The operator needs the cause
  // inside, such as a step's error or the nondeterminism error of a host run that cannot replay.
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(cause);
}

export async function hostRunWorkflow(input: HostRunInput): Promise<HostRunResult> {
  const result: HostRunResult = { host: input.host, steps: {} };
  setHandler(hostProgressQuery, () => result);
  const host = findHost(input.spec, input.host);

  for (const step of input.steps) {
    const rendering = renderStep(input.spec, step, input.host);
    const state = (result.steps[step] = { status: 'running' as const, startedAt: Date.now() });
    try {
      const outcome = await runStep.executeWithOptions({ summary: `${input.host}: ${rendering.title}` }, [
        { cluster: input.cluster, rendering, ssh: input.spec.ssh, address: host.address, hostSsh: host.ssh, kbootVersion: input.kbootVersion },
      ]);
      result.steps[step] = { ...state, status: 'done', outcome: outcome.outcome, finishedAt: Date.now() };
    } catch (error) {
      const message = failureMessage(error);
      result.steps[step] = { ...state, status: 'failed', error: message, finishedAt: Date.now() };
      result.failed = { step, error: message };
      return result;
    }
  }
  return result;
}
