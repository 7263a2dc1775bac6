/**
 * Inputs and results of kboot's activities. Workflows import this file for types only.
 * Nothing here may hold a secret: inputs and results are stored in workflow history.
 */
import type { ClusterSpec, GateId, StepRendering } from '../plan/index.js';
import type { StepCondition, StepOutcome } from '../plan/script.js';
import type { StepId } from '../plan/index.js';
import type { HostSshSpec } from '../plan/spec.js';

export interface StepActivityInput {
  cluster: string;
  rendering: StepRendering;
  /** The spec's SSH settings: file paths on the worker's machine, never key material. */
  ssh: ClusterSpec['ssh'];
  address: string;
  /** The host's own SSH settings (user, port, sudo, tty, pinned fingerprints), when it has any. */
  hostSsh?: HostSshSpec;
  kbootVersion: string;
}

export interface StepActivityResult {
  outcome: StepOutcome;
  changed: string[];
  started: string[];
  restarted: string[];
  durationMs: number;
}

export interface GateActivityInput {
  gate: GateId;
  spec: ClusterSpec;
  /** The host the check runs on. */
  host: string;
  /**
   * Hosts whose step for this gate failed or was skipped: the check reports them and does not wait
   * for them. Set for the etcd quorum gate (failed or skipped members) and the cluster-ready gate
   * (skipped nodes).
   */
  unavailable?: string[];
}

export interface GateActivityResult {
  summary: string;
  /** Set when the gate opened although a health check failed (a degraded etcd): what failed. */
  degraded?: string;
}

export interface HostCheckInput {
  spec: ClusterSpec;
  host: string;
}

export interface HostCheckResult {
  host: string;
  steps: Array<{ step: StepId; condition: StepCondition; failedProbes: string[] }>;
  /** Set when the host could not be read at all. */
  error?: string;
}

/** The activity functions workflows call; implemented in activities/index.ts. */
export interface KbootActivities {
  runStep(input: StepActivityInput): Promise<StepActivityResult>;
  checkGate(input: GateActivityInput): Promise<GateActivityResult>;
  checkHost(input: HostCheckInput): Promise<HostCheckResult>;
}
