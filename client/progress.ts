/**
 * Reads a rollout's live progress: the rollout workflow's own state, plus the current step of
 * every host whose run is in flight (asked of that host run's workflow).
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { PHASES, stepPhase, type StepId } from '../plan/index.js';
import {
  hostProgressQuery,
  type HostRunResult,
  hostRunWorkflowId,
  progressQuery,
  rolloutWorkflowId,
  type RolloutState,
} from '../workflows/definitions.js';

export interface RolloutSnapshot {
  cluster: string;
  workflowId: string;
  runId?: string;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  execution: string;
  state?: RolloutState;
}

/** Reads the rollout's state; for a closed rollout the query still answers from its history. */
export async function readRollout(client: Client, cluster: string): Promise<RolloutSnapshot> {
  const workflowId = rolloutWorkflowId(cluster);
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const snapshot: RolloutSnapshot = { cluster, workflowId, runId: description.runId, execution: description.status.name };
  try {
    snapshot.state = await handle.query(progressQuery);
  } catch (error) {
    if (description.status.name === 'RUNNING') throw error;
  }
  if (snapshot.state && description.status.name === 'RUNNING') await fillRunningSteps(client, cluster, snapshot.state);
  return snapshot;
}

/** Replaces the coarse "running" of in-flight host runs with each step's own state. */
async function fillRunningSteps(client: Client, cluster: string, state: RolloutState): Promise<void> {
  const inFlight = Object.entries(state.hosts).filter(([, host]) => host.status === 'running');
  await Promise.all(
    inFlight.map(async ([host, hostState]) => {
      const firstRunning = (Object.keys(hostState.steps) as StepId[]).find((step) => hostState.steps[step]?.status === 'running');
      if (!firstRunning) return;
      try {
        const run: HostRunResult = await client.workflow.getHandle(hostRunWorkflowId(cluster, host, firstRunning)).query(hostProgressQuery);
        for (const [step, stepState] of Object.entries(run.steps)) hostState.steps[step as StepId] = stepState;
        for (const step of Object.keys(hostState.steps) as StepId[]) {
          if (hostState.steps[step]?.status === 'running' && !run.steps[step]) hostState.steps[step] = { status: 'pending' };
        }
      } catch (error) {
        // The run may have just finished: the rollout's next query shows its result.
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }),
  );
}

export interface PhaseCounts {
  phase: string;
  done: number;
  running: number;
  failed: number;
  total: number;
}

/** Step counts per phase, in rollout order. */
export function phaseCounts(state: RolloutState): PhaseCounts[] {
  const counts = new Map<string, PhaseCounts>(PHASES.map((phase) => [phase, { phase, done: 0, running: 0, failed: 0, total: 0 }]));
  for (const host of Object.values(state.hosts)) {
    for (const [step, stepState] of Object.entries(host.steps)) {
      const entry = counts.get(stepPhase(step as StepId)) as PhaseCounts;
      entry.total++;
      if (stepState?.status === 'done' || stepState?.status === 'skipped') entry.done++;
      else if (stepState?.status === 'running') entry.running++;
      else if (stepState?.status === 'failed') entry.failed++;
    }
  }
  return [...counts.values()].filter((entry) => entry.total > 0);
}

/** The step a host is on: running, failed, or the next one pending. */
export function currentStep(host: RolloutState['hosts'][string]): { step?: StepId; since?: number } {
  const steps = Object.keys(host.steps) as StepId[];
  const active = steps.find((step) => host.steps[step]?.status === 'running' || host.steps[step]?.status === 'failed');
  const step = active ?? steps.find((candidate) => host.steps[candidate]?.status === 'pending');
  return { step, since: step ? host.steps[step]?.startedAt : undefined };
}
