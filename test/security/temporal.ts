/**
 * Reads what Temporal stored about a cluster's rollouts, for tests that check what kboot started
 * and what it recorded.
 */
import { Client, Connection } from '@temporalio/client';

/** Connects to the dev server the test run uses (TEMPORAL_ADDRESS) and passes a client to `use`. */
export async function withTemporal<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    return await use(new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' }));
  } finally {
    await connection.close();
  }
}

/** Lists every run (workflow id and run id) of the cluster's rollout and of its host runs. */
export async function clusterExecutions(client: Client, cluster: string): Promise<Array<{ workflowId: string; runId: string }>> {
  const executions: Array<{ workflowId: string; runId: string }> = [];
  const ids = [`kboot-${cluster}`, `kboot-${cluster}-`];
  const query = `WorkflowId = '${ids[0]}' OR WorkflowId STARTS_WITH '${ids[1]}'`;
  for await (const execution of client.workflow.list({ query })) {
    executions.push({ workflowId: execution.workflowId, runId: execution.runId });
  }
  return executions;
}

/** Waits until the cluster's rollout workflow is closed, whatever its outcome, for at most `timeoutMs`. */
export async function waitForRolloutClosed(client: Client, cluster: string, timeoutMs = 120_000): Promise<void> {
  const handle = client.workflow.getHandle(`kboot-${cluster}`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`rollout kboot-${cluster} still runs after ${timeoutMs} ms`);
}
