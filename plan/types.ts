/**
 * The task graph as data: what each step does on a host, rendered purely from the spec, so the
 * workflow can plan with it and the client can print it. Nothing here performs I/O.
 */

/** Per-host steps, in the order a host runs them. */
export const STEP_IDS = ['preflight', 'packages', 'hosts-file', 'etcd', 'flanneld', 'docker', 'master', 'node'] as const;
export type StepId = (typeof STEP_IDS)[number];

/**
 * Cross-host barriers. Each opens once every host step it needs has succeeded and its own check,
 * run on one host by the rollout workflow, passes.
 */
export const GATE_IDS = ['etcd-quorum', 'flannel-network', 'control-plane', 'cluster-ready'] as const;
export type GateId = (typeof GATE_IDS)[number];

/** The phases an operator sees, in rollout order. */
export const PHASES = ['preflight', 'packages', 'hosts', 'etcd', 'network', 'docker', 'master', 'node', 'verify'] as const;
export type Phase = (typeof PHASES)[number];

/** A file kboot owns entirely: written when its content or mode differ. */
export interface ManagedFile {
  path: string;
  content: string;
  /** Octal mode such as '0644'. */
  mode: string;
}

/** A marked block inside a file kboot shares with others, such as /etc/hosts. */
export interface ManagedBlock {
  path: string;
  /** Marker text; the block sits between `# BEGIN <marker>` and `# END <marker>` lines. */
  marker: string;
  content: string;
}

/** A command that brings something into place when its check fails (for example `yum install`). */
export interface Ensure {
  description: string;
  /** Exits 0 when nothing needs doing. */
  check: string;
  apply: string;
}

/** A systemd unit the step runs. */
export interface UnitAction {
  unit: string;
  /** Files the unit reads: a change to any of them restarts a running unit. */
  readsFiles: string[];
  /** When set and the unit is running, the unit is restarted if this check fails (stale state). */
  restartUnless?: string;
  /**
   * Start without waiting for readiness. etcd members of a new cluster only report ready once a
   * quorum has formed, so each start must return before the others have started.
   */
  noBlock?: boolean;
}

/** A check that must pass after the step applied; retried until its timeout. */
export interface Probe {
  description: string;
  script: string;
  timeoutSeconds: number;
  intervalSeconds: number;
}

/** What one step does on one host, in full: the unit of apply, verify and checkpoint. */
export interface StepRendering {
  step: StepId;
  host: string;
  title: string;
  phase: Phase;
  files: ManagedFile[];
  blocks: ManagedBlock[];
  ensures: Ensure[];
  units: UnitAction[];
  verify: Probe[];
}

/** A node of the task graph: a step on a host, or a gate. */
export type TaskRef = { kind: 'step'; step: StepId; host: string } | { kind: 'gate'; gate: GateId };

export interface PlanTask {
  /** `step@host` for host steps, `gate:<id>` for gates. */
  id: string;
  ref: TaskRef;
  phase: Phase;
  title: string;
  /** Ids of the tasks that must succeed first. */
  needs: string[];
  /** For gates: the host its check runs on. */
  runsOn?: string;
}

export interface Plan {
  cluster: string;
  tasks: PlanTask[];
  /** Each host's steps in the order its host workflow runs them. */
  hostSteps: Record<string, StepId[]>;
}

export function stepTaskId(step: StepId, host: string): string {
  return `${step}@${host}`;
}

export function gateTaskId(gate: GateId): string {
  return `gate:${gate}`;
}
