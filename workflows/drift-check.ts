/**
 * Drift check: reads every step on every host and reports what a rollout of this spec would change,
 * without changing anything. Hosts are read `rollout.parallelism` at a time.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { HostCheckResult, KbootActivities } from '../activities/contract.js';
import type { ClusterSpec } from '../plan/index.js';
import { failureMessage } from './host-run.js';

const { checkHost } = proxyActivities<KbootActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
});

export async function driftCheckWorkflow(spec: ClusterSpec): Promise<HostCheckResult[]> {
  const results: HostCheckResult[] = [];
  const queue = [...spec.hosts];
  const worker = async (): Promise<void> => {
    for (let host = queue.shift(); host; host = queue.shift()) {
      try {
        results.push(await checkHost.executeWithOptions({ summary: `${host.name}: check every step` }, [{ spec, host: host.name }]));
      } catch (error) {
        results.push({ host: host.name, steps: [], error: error instanceof ActivityFailure ? failureMessage(error) : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.rollout.parallelism, spec.hosts.length) }, worker));
  const order = spec.hosts.map((host) => host.name);
  return results.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
}
