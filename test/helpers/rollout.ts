/** Reads rollouts and sandbox hosts directly, for tests that inject faults mid-rollout. */
import { Client, Connection } from '@temporalio/client';
import { readRollout } from '../../client/progress';
import type { RolloutState } from '../../workflows/definitions';
import { down, hostExec, readEvents, up, type UpResult } from '../../sandbox/fleet/index';
import { REPO_ROOT, startWorker, uniqueTaskQueue, type WorkerProcess } from './kboot';

export async function connectClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  return { client: new Client({ connection }), close: () => connection.close() };
}

/** Polls the rollout until `predicate` holds; throws with the last state after `timeoutMs`. */
export async function waitForRollout(
  client: Client,
  cluster: string,
  predicate: (state: RolloutState) => boolean,
  timeoutMs = 180_000,
): Promise<RolloutState> {
  const deadline = Date.now() + timeoutMs;
  let last: RolloutState | undefined;
  while (Date.now() < deadline) {
    try {
      last = (await readRollout(client, cluster)).state;
      if (last && predicate(last)) return last;
    } catch {
      // Not started yet, or a worker is being replaced: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`rollout ${cluster}: condition not reached in ${timeoutMs} ms; last state ${JSON.stringify(last)}`);
}

export function stepStatus(state: RolloutState, host: string, step: string): string | undefined {
  return state.hosts[host]?.steps[step as keyof RolloutState['hosts'][string]['steps']]?.status;
}

/** Runs a shell script as root inside a sandbox host; throws on a non-zero exit. */
export async function onHost(fleet: string, host: string, script: string): Promise<string> {
  const result = await hostExec(fleet, host, ['bash', '-c', script], { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`${host}: ${script}: exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

export type Counters = Record<string, Record<string, Record<string, number>>>;

/** Install and start counts per host, as the hosts' own event logs record them. */
export async function readCounters(fleet: string, hosts: string[]): Promise<Counters> {
  const counters: Counters = {};
  for (const host of hosts) counters[host] = (await readEvents(fleet, host)).counts;
  return counters;
}

/** Every package installed and every unit started exactly once (sshd aside, started by boot). */
export function repeatedWork(counters: Counters): string[] {
  const repeats: string[] = [];
  for (const [host, counts] of Object.entries(counters)) {
    for (const kind of ['install', 'start']) {
      for (const [name, count] of Object.entries(counts[kind] ?? {})) {
        if (name !== 'sshd.service' && count !== 1) repeats.push(`${host}: ${kind} ${name} x${count}`);
      }
    }
  }
  return repeats;
}

/** The etcd cluster id every member reports, read on `host` with etcdctl. */
export async function etcdClusterIds(fleet: string, host: string): Promise<string[]> {
  const statuses = JSON.parse(await onHost(fleet, host, 'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint status --cluster -w json')) as Array<{
    Status: { header: { cluster_id: number | string } };
  }>;
  return statuses.map((status) => String(status.Status.header.cluster_id));
}

/**
 * Creates a sandbox fleet from scratch for one test file: removes a fleet left by an earlier run and
 * terminates that run's rollout, whose task queue no worker polls any more.
 */
export async function freshFleet(name: string, hosts: number): Promise<UpResult> {
  await down(name).catch(() => undefined);
  const { client, close } = await connectClient();
  try {
    await client.workflow
      .getHandle(`kboot-${name}`)
      .terminate('test: a new run of this test starts')
      .catch(() => undefined);
  } finally {
    await close();
  }
  return up({ name, hosts, repoRoot: REPO_ROOT });
}

/** A sandbox fleet and a kboot worker on its own task queue, for one test file. */
export interface SandboxRollout {
  fleet: UpResult;
  worker: WorkerProcess;
  /** Environment for `runKboot` and workers: the file's own task queue. */
  env: Record<string, string>;
  /** Kills the worker with SIGKILL, as a crash would, and starts a new one with `args` for `kboot worker`. */
  crashWorker(args?: string[]): Promise<void>;
}

/**
 * Registers beforeAll/afterAll hooks that create a fresh fleet (`prepare` may set up faults before
 * the worker starts) and remove it afterwards, unless KBOOT_KEEP_FLEET=1.
 */
export function useSandboxRollout(name: string, hosts: number, prepare?: (fleet: UpResult) => Promise<void>): SandboxRollout {
  const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue(name) };
  const fixture: Partial<SandboxRollout> & Pick<SandboxRollout, 'env' | 'crashWorker'> = {
    env,
    async crashWorker(args: string[] = []) {
      fixture.worker?.child.kill('SIGKILL');
      await fixture.worker?.stop();
      fixture.worker = startWorker(env, args);
    },
  };
  beforeAll(async () => {
    fixture.fleet = await freshFleet(name, hosts);
    if (prepare) await prepare(fixture.fleet);
    fixture.worker = startWorker(env);
  });
  afterAll(async () => {
    await fixture.worker?.stop();
    if (process.env.KBOOT_KEEP_FLEET !== '1') await down(name);
  });
  // The hooks fill fleet and worker before any test reads them.
  return fixture as SandboxRollout;
}

/** Makes docker on `host` take `seconds` to start (an ExecStartPre drop-in), so a test can act mid-step. */
export async function slowDockerStart(fleet: string, host: string, seconds: number): Promise<void> {
  await onHost(fleet, host, `mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nExecStartPre=/bin/sleep ${seconds}\\n' > /etc/systemd/system/docker.service.d/05-slow-start.conf`);
}
