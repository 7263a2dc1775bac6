/**
 * The rollout workflow's public surface: its input, queries, updates and search attributes,
 * shared by the workflow, the worker and the client.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ClusterSpec, GateId, StepId } from '../plan/index.js';
import type { StepOutcome } from '../plan/script.js';

export const TASK_QUEUE_DEFAULT = 'kboot';

/** `kboot-<cluster>`: one rollout per cluster at a time, and an id an operator can guess. */
export function rolloutWorkflowId(cluster: string): string {
  return `kboot-${cluster}`;
}

/** `kboot-<cluster>-<host>-<first step>`: a host's run of steps up to its next gate. */
export function hostRunWorkflowId(cluster: string, host: string, firstStep: StepId): string {
  return `kboot-${cluster}-${host}-${firstStep}`;
}

export const searchAttributes = {
  cluster: defineSearchAttributeKey('KbootCluster', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('KbootPhase', SearchAttributeType.KEYWORD),
  failedHosts: defineSearchAttributeKey('KbootFailedHosts', SearchAttributeType.INT),
  version: defineSearchAttributeKey('KbootVersion', SearchAttributeType.KEYWORD),
};

export interface RolloutInput {
  spec: ClusterSpec;
  kbootVersion: string;
  /** State carried over by continue-as-new; absent on a fresh rollout. */
  carried?: RolloutState;
}

export type HostStatus = 'pending' | 'running' | 'waiting' | 'failed' | 'skipped' | 'done';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepState {
  status: StepStatus;
  outcome?: StepOutcome;
  startedAt?: number;
  finishedAt?: number;
  attempts?: number;
  error?: string;
}

export interface HostState {
  status: HostStatus;
  steps: Partial<Record<StepId, StepState>>;
  /** The step the host failed at, and why, while it waits for the operator. */
  failure?: { step: StepId; error: string; at: number };
  /**
   * The run id of the host run in flight, once the server started it. Host runs reuse workflow
   * ids across rollouts, so only the run id separates this rollout's run from an earlier one.
   */
  runId?: string;
}

export interface GateState {
  status: 'pending' | 'running' | 'open' | 'failed';
  runsOn: string;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  /** Set when the gate opened although a health check failed (etcd.allowDegraded): what failed. */
  degraded?: string;
  /** The gate check's own account when it opened, such as the nodes it left out as skipped. */
  summary?: string;
}

/** `degraded`: every step done, but a gate opened with a failed health check; never reported as success. */
export type RolloutPhase = 'running' | 'paused' | 'waiting-for-operator' | 'succeeded' | 'degraded' | 'failed' | 'aborted';

export interface RolloutState {
  phase: RolloutPhase;
  startedAt: number;
  finishedAt?: number;
  hosts: Record<string, HostState>;
  gates: Partial<Record<GateId, GateState>>;
  /** Why the rollout was aborted or failed. */
  abortReason?: string;
  /** Set by the operator's pause: nothing new starts until resume. */
  paused?: boolean;
  /** How many runs of this rollout continue-as-new has chained. */
  generation: number;
}

export interface RolloutResult {
  phase: RolloutPhase;
  hosts: Record<string, HostState>;
  gates: Partial<Record<GateId, GateState>>;
  counts: { applied: number; skipped: number; repaired: number; failed: number };
}

/** Live progress of the rollout, per host and gate. */
export const progressQuery = defineQuery<RolloutState>('progress');

/** The result of an operator's request: accepted, or rejected with the reason. */
export interface OperatorAnswer {
  accepted: boolean;
  message: string;
}

/** Run a failed host again from the step it failed at, or a failed gate's check again. */
export const retryUpdate = defineUpdate<OperatorAnswer, [target: string]>('retry');
/** Give up on a failed host: its remaining steps are skipped and what needs them waits no more. */
export const skipUpdate = defineUpdate<OperatorAnswer, [target: string]>('skip');
/** Stop the rollout: nothing new starts, running steps finish, the workflow ends as aborted. */
export const abortUpdate = defineUpdate<OperatorAnswer, [reason: string]>('abort');
/** Hold the rollout: running steps finish, nothing new starts until resume. */
export const pauseUpdate = defineUpdate<OperatorAnswer, []>('pause');
export const resumeUpdate = defineUpdate<OperatorAnswer, []>('resume');

export interface HostRunInput {
  cluster: string;
  host: string;
  steps: StepId[];
  spec: ClusterSpec;
  kbootVersion: string;
}

export interface HostRunResult {
  host: string;
  steps: Partial<Record<StepId, StepState>>;
  failed?: { step: StepId; error: string };
}

/** Live progress of one host run. */
export const hostProgressQuery = defineQuery<HostRunResult>('hostProgress');
