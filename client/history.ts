/**
 * Past rollouts of a cluster, read from Temporal's visibility store by the KbootCluster search
 * attribute, with each rollout's outcome and step counts read from its closing event.
 */
import { ApplicationFailure, type Client, WorkflowFailedError, type WorkflowExecutionInfo } from '@temporalio/client';
import type { RolloutResult } from '../workflows/definitions.js';
import { searchAttributes } from '../workflows/definitions.js';

/** One rollout: a chain of workflow runs joined by continue-as-new, which the operator sees as one. */
export interface RolloutRecord {
  workflowId: string;
  /** The first run of the chain. */
  firstRunId: string;
  /** The newest run of the chain: its status and result are the rollout's. */
  runId: string;
  runs: number;
  startedAt: Date;
  closedAt?: Date;
  /** Temporal's status of the newest run: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  execution: string;
  /**
   * Outcome the operator reads. A rollout that kboot ended is succeeded, failed or aborted, and a
   * running one shows its phase. Any other end shows Temporal's status in lower case (terminated).
   */
  outcome: string;
  failedHosts?: number;
  kbootVersion?: string;
  counts?: RolloutResult['counts'];
  /** Failure message of a failed or aborted rollout. */
  reason?: string;
}

/** Matches what the spec schema allows for a cluster name, so it is safe inside a visibility query. */
const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export class InvalidClusterNameError extends Error {}

export function historyQuery(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new InvalidClusterNameError(`invalid cluster name ${JSON.stringify(cluster)}: use the name from the spec (a lowercase RFC 1123 label)`);
  }
  return `${searchAttributes.cluster.name} = '${cluster}' AND WorkflowType = 'rolloutWorkflow'`;
}

/**
 * Groups runs into rollouts, newest rollout first. Rollouts of one cluster share a workflow id,
 * so they never overlap in time: in start order, a run that continued as new is followed by the
 * run that continues it. Each group takes its start from its first run and all else from its
 * newest run.
 */
export function groupRuns(executions: WorkflowExecutionInfo[]): RolloutRecord[] {
  const newestFirst = [...executions].sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const chains: WorkflowExecutionInfo[][] = [];
  for (const execution of newestFirst) {
    const current = chains[chains.length - 1];
    if (current && execution.status.name === 'CONTINUED_AS_NEW' && current[0].workflowId === execution.workflowId) current.push(execution);
    else chains.push([execution]);
  }
  return chains.map((runs) => {
    const newest = runs[0];
    const first = runs[runs.length - 1];
    const phase = newest.typedSearchAttributes.get(searchAttributes.phase);
    const status = newest.status.name;
    let outcome = status.toLowerCase();
    if (status === 'RUNNING') outcome = phase ?? 'running';
    else if ((status === 'COMPLETED' || status === 'FAILED') && phase) outcome = phase;
    return {
      workflowId: newest.workflowId,
      firstRunId: first.runId,
      runId: newest.runId,
      runs: runs.length,
      startedAt: first.startTime,
      closedAt: newest.closeTime,
      execution: status,
      outcome,
      failedHosts: newest.typedSearchAttributes.get(searchAttributes.failedHosts),
      kbootVersion: newest.typedSearchAttributes.get(searchAttributes.version),
    };
  });
}

/** Reads the step counts and the failure reason of a closed rollout from its closing event. */
async function readResult(client: Client, record: RolloutRecord): Promise<void> {
  const handle = client.workflow.getHandle(record.workflowId, record.runId, { followRuns: false });
  try {
    const result = (await handle.result()) as RolloutResult;
    record.counts = result.counts;
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    record.reason = error.cause?.message ?? error.message;
    if (error.cause instanceof ApplicationFailure) {
      const details = error.cause.details?.[0] as RolloutResult | undefined;
      if (details?.counts) record.counts = details.counts;
    }
  }
}

/** Maximum runs read for one listing, so that a cluster with a very long record cannot stall the command. */
const MAX_RUNS_READ = 10_000;

/** Lists the newest `limit` rollouts of a cluster, newest first, with the results of closed ones. */
export async function listRollouts(client: Client, cluster: string, limit: number): Promise<RolloutRecord[]> {
  const executions: WorkflowExecutionInfo[] = [];
  let rollouts = 0;
  // Visibility lists runs newest first. In each rollout only the newest run did not continue as new,
  // so once the newest run of rollout limit+1 shows up, the first `limit` rollouts have all their runs.
  for await (const execution of client.workflow.list({ query: historyQuery(cluster) })) {
    if (execution.status.name !== 'CONTINUED_AS_NEW') rollouts++;
    if (rollouts > limit || executions.length >= MAX_RUNS_READ) break;
    executions.push(execution);
  }
  const records = groupRuns(executions).slice(0, limit);
  await Promise.all(records.filter((record) => record.execution !== 'RUNNING').map((record) => readResult(client, record)));
  return records;
}
