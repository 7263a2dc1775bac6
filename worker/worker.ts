/**
 * The kboot worker: runs rollout workflows and their SSH activities. Run one per machine that can
 * reach the fleet; more workers on the same task queue share the load.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { SshPool } from '../activities/ssh/index.js';
import { temporalSettings } from '../client/settings.js';
import { WORKFLOW_BUNDLE, workflowBundleFor } from './bundle.js';

export interface WorkerOptions {
  /** Activities (host steps) this worker runs at once. */
  maxConcurrentActivities?: number;
  /**
   * A workflows module to run in place of the built bundle: a candidate release, tried on a
   * staging task queue before it replaces the workers that carry running rollouts.
   */
  workflowsPath?: string;
}

export async function runWorker(options: WorkerOptions = {}): Promise<void> {
  const settings = temporalSettings();
  const connection = await NativeConnection.connect({ address: settings.address });
  const pool = new SshPool();
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    // The build writes the bundle; without it (a worker run from a partial build) bundle now.
    ...(options.workflowsPath === undefined && !existsSync(WORKFLOW_BUNDLE)
      ? { workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)) }
      : { workflowBundle: await workflowBundleFor(options.workflowsPath) }),
    activities: createActivities(pool),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
    // Workflow code that cannot replay a running rollout fails that rollout at once, where the
    // operator sees it, instead of retrying its workflow task forever. Re-applying the spec then
    // starts a new rollout that skips every step whose host marker still holds.
    workflowFailureErrorTypes: { '*': ['NondeterminismError'] },
  });
  try {
    await worker.run();
  } finally {
    await pool.close();
    await connection.close();
  }
}
