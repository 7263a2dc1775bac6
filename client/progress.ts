/**
 * Reads a rollout's live progress: the rollout workflow's own state, plus the current step of
 * every host whose run is in flight, queried from that host run's workflow. Also sums that state
 * up per phase, host and gate for the terminal views and `kboot status --json`.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { type GateId, GATES, PHASES, type Phase, stepGates, stepPhase, type StepId, stepTitle } from '../plan/index.js';
import {
  type GateState,
  hostProgressQuery,
  type HostRunResult,
  hostRunWorkflowId,
  type HostState,
  type HostStatus,
  progressQuery,
  rolloutWorkflowId,
  type RolloutPhase,
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

/** Reads the rollout's state. A closed rollout still returns it, because the query replays its history. */
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
      // Without the run id (not started yet, or a rollout recorded before runs had one), the
      // workflow id alone may find an earlier rollout's run and show its steps as this one's.
      if (!firstRunning || !hostState.runId) return;
      try {
        const run: HostRunResult = await client.workflow.getHandle(hostRunWorkflowId(cluster, host, firstRunning), hostState.runId).query(hostProgressQuery);
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

/**
 * Status of a host step or gate, in the words the views use. A step the operator skipped counts as
 * `skipped`, and a step that found itself already applied counts as `done`.
 */
export type TaskStatus = 'done' | 'running' | 'failed' | 'waiting' | 'skipped';

export interface PhaseProgress {
  phase: Phase;
  /** Host steps and gates of this phase. */
  total: number;
  done: number;
  running: number;
  failed: number;
  waiting: number;
  skipped: number;
  /** Epoch ms when the phase's first task started. */
  startedAt?: number;
  /** Epoch ms when its last task finished, set only once every task is done or skipped. */
  finishedAt?: number;
}

export interface HostProgress {
  status: HostStatus;
  /** The step the host is on: running, failed, or the next one to run. Absent once all are done. */
  step?: StepId;
  stepTitle?: string;
  /** Epoch ms when the current step started, while it runs. */
  stepStartedAt?: number;
  stepsDone: number;
  stepsTotal: number;
  /** Epoch ms when the host's first step started and, once it has no step left, when its last ended. */
  startedAt?: number;
  finishedAt?: number;
  /** Gates the current step waits for. */
  waitingFor: GateId[];
  /** First line of the error of the step the host failed at. */
  error?: string;
}

export interface GateProgress {
  status: GateState['status'];
  title: string;
  runsOn: string;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  /** First line of what the check found when the gate opened. */
  summary?: string;
}

export interface RolloutProgress {
  phase: RolloutPhase;
  startedAt: number;
  finishedAt?: number;
  phases: PhaseProgress[];
  hosts: Record<string, HostProgress>;
  gates: Partial<Record<GateId, GateProgress>>;
  abortReason?: string;
}

function firstLine(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.split('\n')[0];
}

function stepTaskStatus(status: string | undefined): TaskStatus {
  if (status === 'done' || status === 'running' || status === 'failed' || status === 'skipped') return status;
  return 'waiting';
}

function gateTaskStatus(status: GateState['status']): TaskStatus {
  if (status === 'open') return 'done';
  if (status === 'pending') return 'waiting';
  return status;
}

/** Step and gate counts per phase, in rollout order; phases with no task are left out. */
export function phaseProgress(state: RolloutState): PhaseProgress[] {
  const phases = new Map<Phase, PhaseProgress>(
    PHASES.map((phase) => [phase, { phase, total: 0, done: 0, running: 0, failed: 0, waiting: 0, skipped: 0 }]),
  );
  const finished = new Map<Phase, number[]>();
  const count = (phase: Phase, status: TaskStatus, startedAt?: number, finishedAt?: number): void => {
    const entry = phases.get(phase) as PhaseProgress;
    entry.total++;
    entry[status]++;
    if (startedAt !== undefined) entry.startedAt = Math.min(entry.startedAt ?? startedAt, startedAt);
    if (finishedAt !== undefined) finished.set(phase, [...(finished.get(phase) ?? []), finishedAt]);
  };
  for (const host of Object.values(state.hosts)) {
    for (const [step, stepState] of Object.entries(host.steps) as Array<[StepId, HostState['steps'][StepId]]>) {
      count(stepPhase(step), stepTaskStatus(stepState?.status), stepState?.startedAt, stepState?.finishedAt);
    }
  }
  for (const [gate, gateState] of Object.entries(state.gates) as Array<[GateId, GateState | undefined]>) {
    if (gateState) count(GATES[gate].phase, gateTaskStatus(gateState.status), gateState.startedAt, gateState.finishedAt);
  }
  const result: PhaseProgress[] = [];
  for (const entry of phases.values()) {
    if (entry.total === 0) continue;
    const ends = finished.get(entry.phase) ?? [];
    if (entry.done + entry.skipped === entry.total && ends.length > 0) entry.finishedAt = Math.max(...ends);
    result.push(entry);
  }
  return result;
}

/** Returns the step a host is on: running, failed, or the next one pending. */
export function currentStep(host: HostState): { step?: StepId; since?: number } {
  const steps = Object.keys(host.steps) as StepId[];
  const active = steps.find((step) => host.steps[step]?.status === 'running' || host.steps[step]?.status === 'failed');
  const step = active ?? steps.find((candidate) => host.steps[candidate]?.status === 'pending');
  return { step, since: step ? host.steps[step]?.startedAt : undefined };
}

export function hostProgress(host: HostState, gates: RolloutState['gates']): HostProgress {
  const steps = Object.values(host.steps);
  const { step, since } = currentStep(host);
  const starts = steps.flatMap((stepState) => (stepState?.startedAt === undefined ? [] : [stepState.startedAt]));
  const ends = steps.flatMap((stepState) => (stepState?.finishedAt === undefined ? [] : [stepState.finishedAt]));
  const progress: HostProgress = {
    status: host.status,
    stepsDone: steps.filter((stepState) => stepState?.status === 'done').length,
    stepsTotal: steps.length,
    waitingFor: [],
  };
  if (step) {
    progress.step = step;
    progress.stepTitle = stepTitle(step);
    if (host.steps[step]?.status === 'running') progress.stepStartedAt = since;
    progress.waitingFor = host.status === 'waiting' ? stepGates(step).filter((gate) => gates[gate]?.status !== 'open') : [];
  }
  if (starts.length > 0) progress.startedAt = Math.min(...starts);
  if (!step && ends.length > 0) progress.finishedAt = Math.max(...ends);
  if (host.status === 'failed') progress.error = firstLine(host.failure?.error ?? (step ? host.steps[step]?.error : undefined));
  return progress;
}

/** Sums the whole rollout up per phase, host and gate. */
export function rolloutProgress(state: RolloutState): RolloutProgress {
  const hosts: Record<string, HostProgress> = {};
  for (const [name, host] of Object.entries(state.hosts)) hosts[name] = hostProgress(host, state.gates);
  const gates: Partial<Record<GateId, GateProgress>> = {};
  for (const [gate, gateState] of Object.entries(state.gates) as Array<[GateId, GateState | undefined]>) {
    if (!gateState) continue;
    gates[gate] = {
      status: gateState.status,
      title: GATES[gate].title,
      runsOn: gateState.runsOn,
      startedAt: gateState.startedAt,
      finishedAt: gateState.finishedAt,
      error: firstLine(gateState.error),
      summary: firstLine(gateState.summary),
    };
  }
  return {
    phase: state.phase,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    phases: phaseProgress(state),
    hosts,
    gates,
    abortReason: state.abortReason,
  };
}

/**
 * The document `kboot status --json` prints: Temporal's view of the workflow, the summary per
 * phase, host and gate, and the raw state the rollout workflow's query returned.
 */
export interface StatusDocument {
  cluster: string;
  workflowId: string;
  runId?: string;
  execution: string;
  /** ISO time the client read the rollout. */
  observedAt: string;
  progress?: RolloutProgress;
  state?: RolloutState;
}

export function statusDocument(snapshot: RolloutSnapshot, now: number): StatusDocument {
  return {
    cluster: snapshot.cluster,
    workflowId: snapshot.workflowId,
    runId: snapshot.runId,
    execution: snapshot.execution,
    observedAt: new Date(now).toISOString(),
    progress: snapshot.state ? rolloutProgress(snapshot.state) : undefined,
    state: snapshot.state,
  };
}
