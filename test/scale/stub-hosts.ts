/**
 * A stub host layer for scale tests: a worker running the real rollout and host-run workflows
 * whose runStep and checkGate activities return at once (or after a fixed delay), without SSH.
 * It measures what the workflows themselves do (histories, batches, continue-as-new), never what
 * hosts do.
 */
import { resolve } from 'node:path';
import { Client, Connection, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
import { NativeConnection, Worker } from '@temporalio/worker';
import type { GateActivityInput, KbootActivities, StepActivityInput } from '../../activities/contract';
import { type ClusterSpec, clusterSpecSchema } from '../../plan/spec';
import { rolloutWorkflowId, searchAttributes } from '../../workflows/definitions';
import type { RolloutRunInput } from '../../workflows/rollout';

const BUNDLE = resolve(__dirname, '../../dist/workflow-bundle.js');

/** One activity call the stub layer received, in order of arrival. */
export interface StubCall {
  cluster: string;
  kind: 'step' | 'gate';
  /** Step id or gate id. */
  name: string;
  host: string;
  /** Start and end of the call, in milliseconds since the epoch. */
  at: number;
  end: number;
}

/**
 * A spec of `hosts` hosts in the sandbox fleet's layout: host 1 is the master and an etcd member,
 * hosts 2 and 3 are nodes and etcd members, the rest are nodes. Nothing connects to the addresses.
 */
export function stubSpec(name: string, hosts: number, rollout: Record<string, unknown>): ClusterSpec {
  const list = Array.from({ length: hosts }, (_, index) => ({
    name: index === 0 ? 'master' : `node${index}`,
    address: `198.18.250.${index + 10}`,
    roles: index === 0 ? ['etcd', 'master'] : index <= 2 ? ['etcd', 'node'] : ['node'],
  }));
  return clusterSpecSchema.parse({
    name,
    ssh: { user: 'kboot', privateKeyFile: '/nonexistent/id_ed25519', knownHostsFile: '/nonexistent/known_hosts', sudo: true },
    hosts: list,
    packages: { repository: { id: 'stub', name: 'stub repository', baseurl: 'file:///nonexistent', gpgcheck: false } },
    flannel: { network: '10.0.0.0/8' },
    rollout,
  });
}

export interface StubRollout {
  handle: WorkflowHandleWithFirstExecutionRunId;
  /** The workflow's result, or the error it failed with. */
  outcome: PromiseSettledResult<unknown>;
}

export interface StubLayer {
  client: Client;
  calls: StubCall[];
  /**
   * Runs the rollouts at once on this layer's worker until all of them end; terminates those still
   * running after `timeoutMs`. A worker runs only once, so a layer takes one call of this.
   */
  runRollouts(inputs: RolloutRunInput[], timeoutMs: number): Promise<StubRollout[]>;
  close(): Promise<void>;
}

export interface StubLayerOptions {
  /**
   * Time each step takes, in milliseconds; default 0. A few hundred keep many host runs in flight
   * at once, as on real hosts, instead of each ending before the next one starts.
   */
  stepDelayMs?: number;
}

export async function startStubLayer(taskQueue: string, options: StubLayerOptions = {}): Promise<StubLayer> {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const calls: StubCall[] = [];
  const activities: KbootActivities = {
    runStep: async (input: StepActivityInput) => {
      const call: StubCall = { cluster: input.cluster, kind: 'step', name: input.rendering.step, host: input.rendering.host, at: Date.now(), end: 0 };
      calls.push(call);
      if (options.stepDelayMs) await new Promise((resolve) => setTimeout(resolve, options.stepDelayMs));
      call.end = Date.now();
      return { outcome: 'applied', changed: [], started: [], restarted: [], durationMs: 0 };
    },
    checkGate: async (input: GateActivityInput) => {
      const at = Date.now();
      calls.push({ cluster: input.spec.name, kind: 'gate', name: input.gate, host: input.host, at, end: at });
      return { summary: `${input.gate}: stub layer, nothing checked` };
    },
    // Rollouts never call it; kboot check does, and has no place in a history-size test.
    checkHost: async () => {
      throw new Error('checkHost is not part of the stub host layer');
    },
  };
  const workerConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: { codePath: BUNDLE },
    activities,
    maxConcurrentActivityTaskExecutions: 200,
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });

  const runRollouts = async (inputs: RolloutRunInput[], timeoutMs: number): Promise<StubRollout[]> => {
    const handles = await Promise.all(
      inputs.map((input) =>
        client.workflow.start('rolloutWorkflow', {
          taskQueue,
          workflowId: rolloutWorkflowId(input.spec.name),
          args: [input],
          typedSearchAttributes: [{ key: searchAttributes.cluster, value: input.spec.name }],
        }),
      ),
    );
    // A rollout that never ends (a scheduling deadlock) is terminated, so its result rejects.
    const deadline = setTimeout(() => {
      for (const handle of handles) handle.terminate(`still running after ${timeoutMs} ms in a stub-layer test`).catch(() => undefined);
    }, timeoutMs);
    try {
      const outcomes = await worker.runUntil(Promise.allSettled(handles.map((handle) => handle.result())));
      return handles.map((handle, index) => ({ handle, outcome: outcomes[index] }));
    } finally {
      clearTimeout(deadline);
    }
  };

  const close = async (): Promise<void> => {
    await connection.close();
    await workerConnection.close();
  };
  return { client, calls, runRollouts, close };
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface RunHistory {
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}

/** Every run of the rollout, first to last, following continue-as-new. */
export async function rolloutRuns(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  let runId: string | undefined = firstRunId;
  // A rollout continues as new a bounded number of times; 1000 runs would mean a runaway loop.
  while (runId && runs.length < 1000) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: NonNullable<History['events']> = history.events ?? [];
    runs.push({ workflowId, runId, events });
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

/** Histories of every host run the given rollout runs started. */
export async function hostRuns(client: Client, runs: RunHistory[]): Promise<RunHistory[]> {
  const children: RunHistory[] = [];
  for (const run of runs) {
    for (const event of run.events) {
      const execution = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (!execution?.workflowId || !execution.runId) continue;
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      children.push({ workflowId: execution.workflowId, runId: execution.runId, events: history.events ?? [] });
    }
  }
  return children;
}
