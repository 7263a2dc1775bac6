/**
 * One cluster rollout. Reads like the plan: each host runs its steps up to the next gate in a child
 * workflow; gates (etcd quorum, flannel network, control plane, cluster ready) open once every host
 * step they need has succeeded and their own check passes. A failed host parks; what does not
 * depend on it goes on, and the rollout then waits for the operator to retry, skip or abort.
 * An etcd quorum gate that opens degraded (etcd.allowDegraded) ends the rollout as degraded,
 * never as succeeded.
 *
 * History bound: every host run costs this workflow about 4 events and every gate about 6, so the
 * workflow continues as new once its history passes CONTINUE_AS_NEW_EVENTS, after letting its
 * running children finish. No run of it exceeds that bound by more than 10 events plus 7 per host
 * run or gate check still running when it passed it (at most rollout.parallelism of them).
 *
 * Rolling batches (rollout.batchSize): a host of a later batch starts its first run only once the
 * hosts of earlier batches are finished or parked at a gate that needs later batches.
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { KbootActivities } from '../activities/contract.js';
import { buildPlan, GATE_IDS, type GateId, gateHost, GATES, type StepId, stepGates, stepPhase } from '../plan/index.js';
import {
  abortUpdate,
  type GateState,
  type HostRunResult,
  hostRunWorkflowId,
  type HostState,
  type OperatorAnswer,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
  retryUpdate,
  type RolloutInput,
  type RolloutResult,
  type RolloutState,
  searchAttributes,
  skipUpdate,
} from './definitions.js';
import { failureMessage, hostRunWorkflow } from './host-run.js';

/** Past this many history events the rollout drains its running children and continues as new. */
export const CONTINUE_AS_NEW_EVENTS = 8000;

/** The rollout's input, with a setting that only tests change. */
export interface RolloutRunInput extends RolloutInput {
  /**
   * History length past which this run drains and continues as new; default CONTINUE_AS_NEW_EVENTS.
   * Tests lower it to go through continue-as-new with a small fleet. Carried to every later run.
   */
  continueAsNewEvents?: number;
}

const { checkGate } = proxyActivities<KbootActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  // Gates wait for a cluster to converge (members joining, nodes registering), so they retry for
  // longer than a host step before parking.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 1.5, maximumInterval: '15 seconds', maximumAttempts: 12 },
});

/** A host's steps cut at every step that waits for a gate: each piece runs as one child workflow. */
export function splitIntoRuns(steps: StepId[]): StepId[][] {
  const runs: StepId[][] = [];
  for (const step of steps) {
    if (runs.length === 0 || stepGates(step).length > 0) runs.push([]);
    runs[runs.length - 1].push(step);
  }
  return runs;
}

/** Failed hosts the spec tolerates before the rollout aborts. */
export function failureBudget(spec: RolloutInput['spec']): number {
  // Specs recorded by rollouts that started before maxFailedHosts existed lack it: no budget.
  const { maxFailedHosts = '100%' } = spec.rollout;
  if (typeof maxFailedHosts === 'number') return maxFailedHosts;
  return Math.floor((Number(maxFailedHosts.slice(0, -1)) * spec.hosts.length) / 100);
}

/**
 * Cuts the hosts, in spec order, into rolling batches of `rollout.batchSize`. A percentage is of
 * the whole fleet, rounded down, and never less than one host, as Ansible's serial counts it.
 */
export function rolloutBatches(spec: RolloutInput['spec']): string[][] {
  const hosts = spec.hosts.map((host) => host.name);
  // Rollouts started before batchSize existed carry specs without it, and keep running as one batch.
  const batchSize = spec.rollout.batchSize ?? '100%';
  const size = typeof batchSize === 'number' ? batchSize : Math.max(1, Math.floor((Number(batchSize.slice(0, -1)) * hosts.length) / 100));
  const batches: string[][] = [];
  for (let start = 0; start < hosts.length; start += size) batches.push(hosts.slice(start, start + size));
  return batches;
}

function newState(input: RolloutInput): RolloutState {
  const plan = buildPlan(input.spec);
  const hosts: Record<string, HostState> = {};
  for (const [host, steps] of Object.entries(plan.hostSteps)) {
    hosts[host] = { status: 'pending', steps: Object.fromEntries(steps.map((step) => [step, { status: 'pending' }])) };
  }
  const gates: Partial<Record<GateId, GateState>> = {};
  for (const task of plan.tasks) {
    if (task.ref.kind === 'gate') gates[task.ref.gate] = { status: 'pending', runsOn: task.runsOn ?? '' };
  }
  return { phase: 'running', startedAt: Date.now(), hosts, gates, generation: 0 };
}

export async function rolloutWorkflow(input: RolloutRunInput): Promise<RolloutResult> {
  const { spec } = input;
  const plan = buildPlan(spec);
  const state: RolloutState = input.carried ? { ...input.carried, generation: input.carried.generation + 1 } : newState(input);
  const hostRuns = Object.fromEntries(Object.entries(plan.hostSteps).map(([host, steps]) => [host, splitIntoRuns(steps)]));
  const gateNeeds = Object.fromEntries(plan.tasks.filter((task) => task.ref.kind === 'gate').map((task) => [task.id.slice('gate:'.length), task.needs]));
  let running = 0;
  let draining = false;
  let changed = 0;

  setHandler(progressQuery, () => state);

  const stepSatisfied = (host: string, step: StepId): boolean => {
    const status = state.hosts[host]?.steps[step]?.status;
    return status === 'done' || status === 'skipped';
  };
  const taskSatisfied = (taskId: string): boolean => {
    if (taskId.startsWith('gate:')) return state.gates[taskId.slice('gate:'.length) as GateId]?.status === 'open';
    const [step, host] = taskId.split('@');
    return stepSatisfied(host, step as StepId);
  };

  /** The next run of a host's steps, when its host is idle and the gates it waits for are open. */
  const nextRun = (host: string): StepId[] | undefined => {
    const hostState = state.hosts[host];
    if (hostState.status !== 'pending' && hostState.status !== 'waiting') return undefined;
    const run = hostRuns[host].find((steps) => steps.some((step) => !stepSatisfied(host, step)));
    if (!run) return undefined;
    const gatesOpen = stepGates(run[0]).every((gate) => state.gates[gate]?.status === 'open');
    if (!gatesOpen) {
      hostState.status = 'waiting';
      return undefined;
    }
    return run.filter((step) => !stepSatisfied(host, step));
  };

  const batches = rolloutBatches(spec);
  const batchOf = new Map(batches.flatMap((hosts, index) => hosts.map((host) => [host, index] as const)));

  /** Returns whether a host has started a step. A started host is never held back by its batch. */
  const begun = (host: string): boolean => {
    const hostState = state.hosts[host];
    return hostState.status !== 'pending' || Object.values(hostState.steps).some((step) => step?.status !== 'pending');
  };

  /**
   * Finds the first batch with a host still in progress. Hosts of later batches wait. A host is no
   * longer in progress once it is done, failed or skipped, or parked at a gate that cannot open
   * without hosts of later batches or an operator's decision, because waiting for it would never end.
   */
  const openBatch = (): number => {
    const gateHeldMemo = new Map<string, boolean>();
    const gateHeld = (gate: GateId): boolean => {
      const gateState = state.gates[gate];
      if (!gateState || gateState.status === 'open' || gateState.status === 'running') return false;
      if (gateState.status === 'failed') return true;
      const key = `gate:${gate}`;
      if (!gateHeldMemo.has(key)) {
        gateHeldMemo.set(key, false);
        gateHeldMemo.set(
          key,
          gateNeeds[gate].some((need) => {
            if (taskSatisfied(need)) return false;
            if (need.startsWith('gate:')) return gateHeld(need.slice('gate:'.length) as GateId);
            const host = need.split('@')[1];
            return !begun(host) || hostParked(host);
          }),
        );
      }
      return gateHeldMemo.get(key) as boolean;
    };
    const hostParked = (host: string): boolean => {
      const hostState = state.hosts[host];
      if (hostState.status === 'failed') return true;
      if ((hostState.status !== 'pending' && hostState.status !== 'waiting') || !begun(host)) return false;
      const run = hostRuns[host].find((steps) => steps.some((step) => !stepSatisfied(host, step)));
      return run !== undefined && stepGates(run[0]).some(gateHeld);
    };
    const inProgress = (host: string): boolean => {
      const { status } = state.hosts[host];
      return status !== 'done' && status !== 'skipped' && !hostParked(host);
    };
    const index = batches.findIndex((hosts) => hosts.some(inProgress));
    return index === -1 ? batches.length : index;
  };

  const failedHostCount = (): number => Object.values(state.hosts).filter((host) => host.status === 'failed').length;

  const publish = (): void => {
    const activePhases = new Set<string>();
    for (const hostState of Object.values(state.hosts)) {
      for (const [step, stepState] of Object.entries(hostState.steps)) {
        if (stepState?.status === 'running') activePhases.add(stepPhase(step as StepId));
      }
    }
    const phase = state.phase === 'running' ? [...activePhases][0] ?? 'running' : state.phase;
    upsertSearchAttributes([
      { key: searchAttributes.phase, value: phase },
      { key: searchAttributes.failedHosts, value: failedHostCount() },
    ]);
  };

  const startHostRun = async (host: string, steps: StepId[]): Promise<void> => {
    const hostState = state.hosts[host];
    hostState.status = 'running';
    hostState.failure = undefined;
    hostState.runId = undefined;
    for (const step of steps) hostState.steps[step] = { status: 'running', startedAt: Date.now() };
    running++;
    const handle = await startChild(hostRunWorkflow, {
      workflowId: hostRunWorkflowId(spec.name, host, steps[0]),
      args: [{ cluster: spec.name, host, steps, spec, kbootVersion: input.kbootVersion }],
      staticSummary: `${host}: ${steps.join(', ')}`,
      // The child's result comes back through this run; if this run continues as new while the
      // child still runs, it drains first, so abandoning is never needed.
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
    hostState.runId = handle.firstExecutionRunId;
    handle
      .result()
      .then((result: HostRunResult) => {
        Object.assign(hostState.steps, result.steps);
        if (result.failed) {
          hostState.status = 'failed';
          hostState.failure = { ...result.failed, at: Date.now() };
        } else {
          hostState.status = hostRuns[host].flat().every((step) => stepSatisfied(host, step)) ? 'done' : 'pending';
        }
      })
      .catch((error: unknown) => {
        const step = steps.find((candidate) => !stepSatisfied(host, candidate)) ?? steps[0];
        hostState.status = 'failed';
        hostState.failure = { step, error: `host run ended: ${failureMessage(error)}`, at: Date.now() };
        hostState.steps[step] = { ...hostState.steps[step], status: 'failed', error: hostState.failure.error };
      })
      .finally(() => {
        for (const step of steps) if (hostState.steps[step]?.status === 'running') hostState.steps[step] = { status: 'pending' };
        running--;
        changed++;
      });
  };

  /**
   * Returns the etcd members whose etcd step did not succeed, once every member's step has succeeded
   * or its host has failed or been skipped and at least one member is up. It returns undefined while
   * a member is still on its way. The quorum gate then runs without waiting for the missing members,
   * names them and decides whether the rollout may go on degraded.
   */
  const unavailableEtcdMembers = (): string[] | undefined => {
    const unavailable: string[] = [];
    let up = 0;
    for (const [name, hostState] of Object.entries(state.hosts)) {
      const etcd = hostState.steps.etcd;
      if (!etcd) continue;
      if (etcd.status === 'done') up++;
      else if (hostState.status === 'failed' || hostState.status === 'skipped') unavailable.push(name);
      else return undefined;
    }
    return up > 0 ? unavailable : undefined;
  };

  /** Nodes the operator skipped: the cluster-ready gate must not wait for them to register. */
  const skippedNodes = (): string[] =>
    Object.entries(state.hosts)
      .filter(([, hostState]) => hostState.status === 'skipped' && hostState.steps.node !== undefined)
      .map(([name]) => name);

  const gateReady = (gate: GateId): boolean => {
    if (gateNeeds[gate].every(taskSatisfied)) return true;
    // Rollouts recorded before this rule waited for every member; the patch keeps them replaying.
    return gate === 'etcd-quorum' && unavailableEtcdMembers() !== undefined && patched('etcd-quorum-without-failed-members');
  };

  const startGate = (gate: GateId): void => {
    const gateState = state.gates[gate] as GateState;
    gateState.status = 'running';
    gateState.startedAt = Date.now();
    gateState.error = undefined;
    gateState.degraded = undefined;
    running++;
    let unavailable: string[] = [];
    if (gate === 'etcd-quorum') unavailable = unavailableEtcdMembers() ?? [];
    if (gate === 'cluster-ready') unavailable = skippedNodes();
    checkGate
      .executeWithOptions({ summary: `${gateState.runsOn}: ${GATES[gate].title}` }, [
        { gate, spec, host: gateHost(spec, gate).name, ...(unavailable.length > 0 ? { unavailable } : {}) },
      ])
      .then((result) => {
        gateState.status = 'open';
        gateState.summary = result?.summary;
        if (result?.degraded) gateState.degraded = result.degraded;
      })
      .catch((error: unknown) => {
        gateState.status = 'failed';
        gateState.error = failureMessage(error);
      })
      .finally(() => {
        gateState.finishedAt = Date.now();
        running--;
        changed++;
      });
  };

  const findTarget = (target: string): { host?: HostState; gate?: GateState } => {
    const gateName = target.startsWith('gate:') ? target.slice('gate:'.length) : target;
    if ((GATE_IDS as readonly string[]).includes(gateName)) return { gate: state.gates[gateName as GateId] };
    return { host: state.hosts[target] };
  };

  const answer = (accepted: boolean, message: string): OperatorAnswer => {
    changed++;
    return { accepted, message };
  };

  /** The rejection for a request that arrives after the rollout ended, or undefined while it runs. */
  const rejectIfEnded = (): OperatorAnswer | undefined =>
    state.phase === 'aborted' || state.phase === 'succeeded' || state.phase === 'degraded' || state.phase === 'failed' ? answer(false, `rollout ${spec.name} already ${state.phase}`) : undefined;

  setHandler(retryUpdate, (target: string): OperatorAnswer => {
    const ended = rejectIfEnded();
    if (ended) return ended;
    const { host, gate } = findTarget(target);
    if (gate) {
      if (gate.status !== 'failed') return answer(false, `gate ${target} is ${gate.status}, not failed`);
      gate.status = 'pending';
      return answer(true, `gate ${target} will be checked again`);
    }
    if (!host) return answer(false, `host ${target} is not in cluster ${spec.name}`);
    if (host.status !== 'failed') return answer(false, `host ${target} is ${host.status}, not failed`);
    const step = host.failure?.step;
    host.status = 'pending';
    if (step) host.steps[step] = { status: 'pending' };
    return answer(true, `host ${target} resumes at step ${step}`);
  });

  setHandler(skipUpdate, (target: string): OperatorAnswer => {
    const ended = rejectIfEnded();
    if (ended) return ended;
    const { host, gate } = findTarget(target);
    if (gate) return answer(false, `gate ${target} cannot be skipped: hosts after it rely on what it checks`);
    if (!host) return answer(false, `host ${target} is not in cluster ${spec.name}`);
    if (host.status !== 'failed') return answer(false, `host ${target} is ${host.status}; only a failed host can be skipped`);
    host.status = 'skipped';
    for (const [step, stepState] of Object.entries(host.steps)) {
      if (stepState?.status !== 'done') host.steps[step as StepId] = { ...stepState, status: 'skipped' };
    }
    return answer(true, `host ${target} skipped: its remaining steps will not run`);
  });

  setHandler(pauseUpdate, (): OperatorAnswer => {
    const ended = rejectIfEnded();
    if (ended) return ended;
    if (state.paused) return answer(false, `rollout ${spec.name} is already paused`);
    state.paused = true;
    return answer(true, `rollout ${spec.name} paused: running steps finish, nothing new starts until resume`);
  });

  setHandler(resumeUpdate, (): OperatorAnswer => {
    if (!state.paused) return answer(false, `rollout ${spec.name} is not paused`);
    state.paused = false;
    return answer(true, `rollout ${spec.name} resumed`);
  });

  setHandler(abortUpdate, (reason: string): OperatorAnswer => {
    const ended = rejectIfEnded();
    if (ended) return ended;
    state.phase = 'aborted';
    state.paused = false;
    state.abortReason = reason || 'aborted by the operator';
    return answer(true, `rollout ${spec.name} aborts once its running steps finish`);
  });

  const allDone = (): boolean =>
    Object.values(state.hosts).every((host) => host.status === 'done' || host.status === 'skipped') &&
    Object.values(state.gates).every((gate) => gate?.status === 'open');

  const eventLimit = input.continueAsNewEvents ?? CONTINUE_AS_NEW_EVENTS;
  const historyFull = (): boolean => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > eventLimit;

  const budget = failureBudget(spec);
  publish();
  while (true) {
    if (state.phase !== 'aborted' && failedHostCount() > budget) {
      state.phase = 'aborted';
      state.abortReason = `failure budget exceeded: ${failedHostCount()} of ${spec.hosts.length} hosts failed, rollout.maxFailedHosts allows ${budget}`;
    }
    if (state.phase !== 'aborted') {
      if (!draining && historyFull()) draining = true;
      if (!draining && !state.paused) {
        for (const gate of Object.keys(state.gates) as GateId[]) {
          if (state.gates[gate]?.status === 'pending' && gateReady(gate)) startGate(gate);
        }
        const lastStartingBatch = batches.length > 1 ? openBatch() : 0;
        const starts: Promise<void>[] = [];
        for (const host of Object.keys(state.hosts)) {
          if (running >= spec.rollout.parallelism) break;
          if ((batchOf.get(host) ?? 0) > lastStartingBatch && !begun(host)) continue;
          const steps = nextRun(host);
          if (!steps || steps.length === 0) continue;
          if (historyFull()) {
            draining = true;
            break;
          }
          // Awaiting each start cost one workflow task per host run: about 10 s for a wave of 50
          // hosts. Starting the pass together sends every start in one task. Rollouts recorded
          // before keep their one-by-one starts through the patch.
          const start = startHostRun(host, steps);
          if (patched('host-runs-start-together')) starts.push(start);
          else await start;
        }
        await Promise.all(starts);
      }
      const failed = failedHostCount() > 0 || Object.values(state.gates).some((gate) => gate?.status === 'failed');
      if (running === 0 && failed && !allDone()) state.phase = 'waiting-for-operator';
      else state.phase = state.paused ? 'paused' : 'running';
    }
    publish();

    if (running === 0) {
      if (state.phase === 'aborted') break;
      if (allDone()) {
        state.phase = Object.values(state.gates).some((gate) => gate?.degraded) ? 'degraded' : 'succeeded';
        break;
      }
      if (draining) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof rolloutWorkflow>({ ...input, carried: state });
      }
    }
    const seen = changed;
    if (state.phase === 'waiting-for-operator') {
      const answered = await condition(() => changed !== seen, (spec.rollout.operatorTimeout ?? '24h') as Duration);
      if (!answered) {
        state.phase = 'failed';
        state.abortReason = `no operator decision within rollout.operatorTimeout (${spec.rollout.operatorTimeout ?? '24h'})`;
        break;
      }
    } else {
      await condition(() => changed !== seen);
    }
  }

  state.finishedAt = Date.now();
  publish();
  await condition(allHandlersFinished);
  const result = summarize(state);
  if (state.phase === 'aborted' || state.phase === 'failed') {
    throw ApplicationFailure.nonRetryable(`rollout ${spec.name} ${state.phase}: ${state.abortReason}`, state.phase === 'aborted' ? 'RolloutAborted' : 'RolloutFailed', result);
  }
  return result;
}

function summarize(state: RolloutState): RolloutResult {
  const counts = { applied: 0, skipped: 0, repaired: 0, failed: 0 };
  for (const host of Object.values(state.hosts)) {
    for (const step of Object.values(host.steps)) {
      if (step?.status === 'failed') counts.failed++;
      else if (step?.outcome) counts[step.outcome]++;
    }
  }
  return { phase: state.phase, hosts: state.hosts, gates: state.gates, counts };
}
