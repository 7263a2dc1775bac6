/**
 * The planner: which step runs on which host, what each waits for, and the gates between hosts.
 * Pure and deterministic, so the rollout workflow and the client compute the same plan.
 */
import type { ClusterSpec, HostSpec } from './spec.js';
import { renderDocker } from './steps/docker.js';
import { renderEtcd } from './steps/etcd.js';
import { renderFlanneld } from './steps/flanneld.js';
import { renderHostsFile } from './steps/hosts-file.js';
import { renderMaster } from './steps/master.js';
import { renderNode } from './steps/node.js';
import { renderPackages } from './steps/packages.js';
import { renderPreflight } from './steps/preflight.js';
import { findHost, hasRole, hostsWithRole, primaryEtcdMember, primaryMaster } from './topology.js';
import {
  gateTaskId,
  type GateId,
  type Phase,
  type Plan,
  type PlanTask,
  STEP_IDS,
  type StepId,
  type StepRendering,
  stepTaskId,
} from './types.js';

interface StepDefinition {
  phase: Phase;
  title: string;
  appliesTo(host: HostSpec): boolean;
  /** Steps on the same host that must succeed first. */
  after: StepId[];
  /** Gates that must be open first. */
  gates: GateId[];
  render(spec: ClusterSpec, host: HostSpec): StepRendering;
}

const STEPS: Record<StepId, StepDefinition> = {
  preflight: { phase: 'preflight', title: 'Preflight checks', appliesTo: () => true, after: [], gates: [], render: renderPreflight },
  packages: { phase: 'packages', title: 'Install packages', appliesTo: () => true, after: ['preflight'], gates: [], render: renderPackages },
  'hosts-file': { phase: 'hosts', title: 'Cluster hosts in /etc/hosts', appliesTo: () => true, after: ['preflight'], gates: [], render: renderHostsFile },
  etcd: {
    phase: 'etcd',
    title: 'etcd member',
    appliesTo: (host) => hasRole(host, 'etcd'),
    after: ['packages', 'hosts-file'],
    gates: [],
    render: renderEtcd,
  },
  flanneld: {
    phase: 'network',
    title: 'flanneld',
    appliesTo: (host) => hasRole(host, 'node'),
    after: ['packages', 'hosts-file'],
    gates: ['flannel-network'],
    render: renderFlanneld,
  },
  docker: { phase: 'docker', title: 'docker', appliesTo: (host) => hasRole(host, 'node'), after: ['flanneld'], gates: [], render: renderDocker },
  master: {
    phase: 'master',
    title: 'Master services',
    appliesTo: (host) => hasRole(host, 'master'),
    after: ['packages', 'hosts-file'],
    gates: ['etcd-quorum'],
    render: renderMaster,
  },
  node: {
    phase: 'node',
    title: 'Node services',
    appliesTo: (host) => hasRole(host, 'node'),
    after: ['docker'],
    gates: ['control-plane'],
    render: renderNode,
  },
};

interface GateDefinition {
  phase: Phase;
  title: string;
  /** Host steps (on every host they apply to) and gates that must succeed first. */
  afterSteps: StepId[];
  afterGates: GateId[];
  runsOn(spec: ClusterSpec): HostSpec;
}

export const GATES: Record<GateId, GateDefinition> = {
  'etcd-quorum': {
    phase: 'etcd',
    title: 'etcd quorum: every member healthy and in the member list',
    afterSteps: ['etcd'],
    afterGates: [],
    runsOn: primaryEtcdMember,
  },
  'flannel-network': {
    phase: 'network',
    title: 'flannel network config written to etcd',
    afterSteps: [],
    afterGates: ['etcd-quorum'],
    runsOn: primaryEtcdMember,
  },
  'control-plane': {
    phase: 'master',
    title: 'Control plane healthy on every master',
    afterSteps: ['master'],
    afterGates: [],
    runsOn: primaryMaster,
  },
  'cluster-ready': {
    phase: 'verify',
    title: 'Every node registered and Ready',
    afterSteps: ['node'],
    afterGates: ['control-plane'],
    runsOn: primaryMaster,
  },
};

export function stepTitle(step: StepId): string {
  return STEPS[step].title;
}

export function stepPhase(step: StepId): Phase {
  return STEPS[step].phase;
}

/** The steps a host runs, in order. */
export function stepsForHost(host: HostSpec): StepId[] {
  return STEP_IDS.filter((step) => STEPS[step].appliesTo(host));
}

/** Gates a host's own steps wait for. */
export function gatesForHost(host: HostSpec): GateId[] {
  return [...new Set(stepsForHost(host).flatMap((step) => STEPS[step].gates))];
}

export function stepGates(step: StepId): GateId[] {
  return STEPS[step].gates;
}

/** Host steps a gate waits for, as task ids, across the whole cluster. */
export function gateStepNeeds(spec: ClusterSpec, gate: GateId): string[] {
  return GATES[gate].afterSteps.flatMap((step) =>
    spec.hosts.filter((host) => STEPS[step].appliesTo(host)).map((host) => stepTaskId(step, host.name)),
  );
}

export function gateHost(spec: ClusterSpec, gate: GateId): HostSpec {
  return GATES[gate].runsOn(spec);
}

/** What `step` does on `hostName`, in full. Throws when the step does not apply to that host. */
export function renderStep(spec: ClusterSpec, step: StepId, hostName: string): StepRendering {
  const host = findHost(spec, hostName);
  if (!STEPS[step].appliesTo(host)) throw new Error(`step ${step} does not apply to host ${hostName} (roles ${host.roles.join(', ')})`);
  return STEPS[step].render(spec, host);
}

export function buildPlan(spec: ClusterSpec): Plan {
  const tasks: PlanTask[] = [];
  const hostSteps: Record<string, StepId[]> = {};
  for (const host of spec.hosts) {
    const steps = stepsForHost(host);
    hostSteps[host.name] = steps;
    for (const step of steps) {
      const definition = STEPS[step];
      tasks.push({
        id: stepTaskId(step, host.name),
        ref: { kind: 'step', step, host: host.name },
        phase: definition.phase,
        title: definition.title,
        needs: [
          ...definition.after.filter((before) => steps.includes(before)).map((before) => stepTaskId(before, host.name)),
          ...definition.gates.map(gateTaskId),
        ],
      });
    }
  }
  for (const [gate, definition] of Object.entries(GATES) as Array<[GateId, GateDefinition]>) {
    if (gate === 'flannel-network' && hostsWithRole(spec, 'node').length === 0) continue;
    tasks.push({
      id: gateTaskId(gate),
      ref: { kind: 'gate', gate },
      phase: definition.phase,
      title: definition.title,
      needs: [...gateStepNeeds(spec, gate), ...definition.afterGates.map(gateTaskId)],
      runsOn: definition.runsOn(spec).name,
    });
  }
  return { cluster: spec.name, tasks, hostSteps };
}
