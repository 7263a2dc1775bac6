/**
 * F11: etcd fails on 1 of 3 members, then on 2 of 3. With one member down the quorum gate
 * reports "degraded, quorum 2/3" and names the host: the rollout goes on only when the spec sets
 * etcd.allowDegraded, and then ends as degraded, never as succeeded. With two members down the
 * gate fails and no step that needs etcd starts.
 *
 * etcd fails on a member because its data dir path is taken by a plain file (as when a volume
 * failed to mount and something wrote there), so the unit fails at every start.
 */
import type { Client } from '@temporalio/client';
import { renderSummary } from '../../client/render';
import type { UpResult } from '../../sandbox/fleet/index';
import type { RolloutResult } from '../../workflows/definitions';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, onHost, readCounters, waitForRollout } from '../helpers/rollout';
import { freshFleet, writeSpec, removeFieldFleet } from './fleet';

const FLEET = 'fc11';
const DATA_DIR = '/var/lib/etcd/default.etcd';
// node2 is an etcd member only and node3 a node only, so skipping node2 leaves every node in place.
const ROLES: Record<string, Array<'etcd' | 'master' | 'node'>> = { master: ['etcd', 'master'], node1: ['etcd', 'node'], node2: ['etcd'], node3: ['node'] };

jest.setTimeout(20 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let temporal: { client: Client; close: () => Promise<void> };
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc11') };

function spec(file: string, allowDegraded: boolean): string {
  return writeSpec(fleet, file, (document) => {
    document.hosts = document.hosts.map((host) => ({ ...host, roles: ROLES[host.name] }));
    document.etcd = { ...document.etcd, allowDegraded };
  });
}

async function breakEtcd(host: string): Promise<void> {
  await onHost(FLEET, host, `systemctl stop etcd 2>/dev/null; mkdir -p /var/lib/etcd && rm -rf ${DATA_DIR} && echo 'not a data dir' > ${DATA_DIR}`);
}

async function rolloutEnded(): Promise<void> {
  await temporal.client.workflow
    .getHandle(`kboot-${FLEET}`)
    .result()
    .catch(() => undefined);
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 4);
  await breakEtcd('node2');
  worker = startWorker(env);
  temporal = await connectClient();
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
  await temporal?.close();
});

test('1 of 3 down stops the rollout by default', async () => {
  const result = await runKboot(['apply', spec('strict.yaml', false)], env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/node2: etcd failed: .*etcd on node2 failed to start/);
  expect(result.stderr).toMatch(/gate etcd-quorum failed: etcd degraded, quorum 2\/3 \(healthy: master, node1\); node2: its etcd step did not succeed/);
  expect(result.stderr).toContain('etcd.allowDegraded is off, so nothing that needs etcd starts');

  const state = await waitForRollout(temporal.client, FLEET, (current) => current.phase === 'waiting-for-operator');
  expect(state.gates['flannel-network']?.status).toBe('pending');
  expect(state.hosts.master.steps.master?.status).toBe('pending');
  expect(state.hosts.node1.steps.flanneld?.status).toBe('pending');
  expect((await readCounters(FLEET, ['master'])).master.start?.['kube-apiserver.service']).toBeUndefined();
});

test('allowDegraded goes on, ends degraded', async () => {
  expect((await runKboot(['abort', FLEET], env)).code).toBe(0);
  await rolloutEnded();

  const result = await runKboot(['apply', spec('degraded.yaml', true)], env);
  expect(result.code).toBe(4);
  const parked = await waitForRollout(temporal.client, FLEET, (current) => current.phase === 'waiting-for-operator');
  expect(parked.gates['etcd-quorum']?.status).toBe('open');
  expect(parked.gates['etcd-quorum']?.degraded).toMatch(/^etcd degraded, quorum 2\/3 \(healthy: master, node1\); node2: /);
  expect(parked.hosts.node1.steps.node?.status).toBe('done');
  expect(parked.hosts.node3.steps.node?.status).toBe('done');
  expect(await onHost(FLEET, 'master', 'curl -fsS http://127.0.0.1:8080/healthz')).toBe('ok');

  expect((await runKboot(['skip', FLEET, 'node2'], env)).code).toBe(0);
  const outcome = (await temporal.client.workflow.getHandle(`kboot-${FLEET}`).result()) as RolloutResult;
  expect(outcome.phase).toBe('degraded');
  const summary = renderSummary(FLEET, outcome);
  expect(summary[0]).toMatch(new RegExp(`^rollout ${FLEET} degraded: `));
  expect(summary.join('\n')).not.toContain('succeeded');
  expect(summary).toContain(`  gate etcd-quorum: opened degraded: ${outcome.gates['etcd-quorum']?.degraded}`);
  const status = await runKboot(['status', FLEET], env);
  expect(status.code).toBe(6);
  expect(status.stdout).toMatch(new RegExp(`^rollout ${FLEET}: degraded`, 'm'));
  const history = await runKboot(['history', FLEET, '--limit', '1'], env);
  expect(history.stdout).toMatch(/Z\s+degraded\s/);
});

test('2 of 3 down fails, nothing dependent starts', async () => {
  await breakEtcd('node1');
  const startsBefore = await readCounters(FLEET, ['master', 'node1', 'node3']);

  const result = await runKboot(['apply', spec('degraded.yaml', true)], env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/gate etcd-quorum failed: etcd has no quorum: 0\/3 members healthy \(none\), 2 needed; master: .*node1: its etcd step did not succeed.*node2: its etcd step did not succeed/);

  const state = await waitForRollout(temporal.client, FLEET, (current) => current.phase === 'waiting-for-operator');
  expect(state.gates['etcd-quorum']?.status).toBe('failed');
  expect(state.gates['flannel-network']?.status).toBe('pending');
  expect(state.hosts.master.steps.master?.status).toBe('pending');
  expect(state.hosts.node3.steps.flanneld?.status).toBe('pending');
  const startsAfter = await readCounters(FLEET, ['master', 'node1', 'node3']);
  for (const [host, unit] of [['master', 'kube-apiserver.service'], ['node1', 'flanneld.service'], ['node3', 'kubelet.service']]) {
    expect([host, unit, startsAfter[host].start[unit]]).toEqual([host, unit, startsBefore[host].start[unit]]);
  }
});

