/**
 * Rolling batches on a real 5-host sandbox fleet, with rollout.batchSize 2. Master and node1 start
 * and park at the etcd quorum gate, because node2, an etcd member, is in the next batch. Node2 and
 * node3 then run to the end, and only then node4 starts. The order is read from the rollout's step
 * times and from the hosts' own event logs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { down, readEvents, up, type SandboxEvent, type UpResult } from '../../sandbox/fleet/index';
import { rolloutWorkflowId, type RolloutResult } from '../../workflows/definitions';
import { REPO_ROOT, runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';

const FLEET = 'bnbatch';
const HOSTS = ['master', 'node1', 'node2', 'node3', 'node4'];

jest.setTimeout(20 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let specFile: string;
let events: Record<string, SandboxEvent[]>;
let result: RolloutResult;
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('batches-fleet') };

/** Seconds since the epoch of a host's first event of `kind` (any name when omitted). */
function firstEvent(host: string, kind: string, name?: string): number {
  const times = events[host].filter((event) => event.kind === kind && (name === undefined || event.name === name)).map((event) => Date.parse(event.time));
  if (times.length === 0) throw new Error(`${host}: no ${kind} ${name ?? ''} event in ${JSON.stringify(events[host])}`);
  return Math.min(...times);
}

function stepTime(host: string, step: string, edge: 'startedAt' | 'finishedAt'): number {
  const value = result.hosts[host]?.steps[step as keyof RolloutResult['hosts'][string]['steps']]?.[edge];
  if (value === undefined) throw new Error(`${host}: step ${step} has no ${edge} in the rollout result`);
  return value;
}

beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: HOSTS.length, repoRoot: REPO_ROOT });
  const spec = parse(readFileSync(fleet.specFile, 'utf8')) as { rollout: Record<string, unknown> };
  spec.rollout = { ...spec.rollout, batchSize: 2 };
  specFile = fleet.specFile.replace(/\.yaml$/, '-batches.yaml');
  writeFileSync(specFile, stringify(spec));
  worker = startWorker(env);

  const applied = await runKboot(['apply', specFile], env);
  if (applied.code !== 0) throw new Error(`kboot apply exited ${applied.code}\n${applied.stdout}\n${applied.stderr}\nworker:\n${worker.output().slice(-5000)}`);
  events = {};
  for (const host of HOSTS) events[host] = (await readEvents(FLEET, host)).events;
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    result = (await new Client({ connection }).workflow.getHandle(rolloutWorkflowId(FLEET)).result()) as RolloutResult;
  } finally {
    await connection.close();
  }
});

afterAll(async () => {
  await worker?.stop();
  if (process.env.KBOOT_KEEP_FLEET !== '1') await down(FLEET);
});

describe('rollout in batches of 2 on the sandbox fleet', () => {
  test('rollout succeeds on every host', () => {
    expect(result.phase).toBe('succeeded');
    expect(HOSTS.map((host) => [host, result.hosts[host]?.status])).toEqual(HOSTS.map((host) => [host, 'done']));
  });

  test('second batch starts after the first parks at etcd quorum', () => {
    const parkedAt = Math.max(stepTime('master', 'etcd', 'finishedAt'), stepTime('node1', 'etcd', 'finishedAt'));
    expect(Math.min(stepTime('node2', 'preflight', 'startedAt'), stepTime('node3', 'preflight', 'startedAt'))).toBeGreaterThanOrEqual(parkedAt);
    // On the hosts: node2 installs its packages only once both members of batch 1 started etcd.
    expect(firstEvent('node2', 'install')).toBeGreaterThanOrEqual(Math.max(firstEvent('master', 'start', 'etcd.service'), firstEvent('node1', 'start', 'etcd.service')));
  });

  test('third batch starts after the second is done', () => {
    const secondDone = Math.max(stepTime('node2', 'node', 'finishedAt'), stepTime('node3', 'node', 'finishedAt'));
    expect(stepTime('node4', 'preflight', 'startedAt')).toBeGreaterThanOrEqual(secondDone);
    expect(firstEvent('node4', 'install')).toBeGreaterThanOrEqual(Math.max(firstEvent('node2', 'start', 'kube-proxy.service'), firstEvent('node3', 'start', 'kube-proxy.service')));
  });

  test('no package installed or unit started twice', () => {
    const repeats: string[] = [];
    for (const host of HOSTS) {
      const counts = new Map<string, number>();
      for (const event of events[host]) {
        if (event.name === 'sshd.service' || (event.kind !== 'install' && event.kind !== 'start')) continue;
        const key = `${event.kind} ${event.name}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, count] of counts) if (count !== 1) repeats.push(`${host}: ${key} x${count}`);
    }
    expect(repeats).toEqual([]);
  });
});
