/**
 * F1: three etcd members; node2's data dir is wiped while the member list still holds node2.
 * Re-applying removes node2 from the member list, adds it again and starts it as `existing`, and
 * the quorum gate waits for all three. With the quorum already lost (node1's etcd stopped and
 * masked) the etcd step fails, says why, and leaves the member list as it was; once node1 is
 * back, retrying finishes the job.
 */
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { onHost, readCounters } from '../helpers/rollout';
import { addressOf, describeRun, etcdctl, freshFleet, removeFieldFleet } from './fleet';

const FLEET = 'fc1';
const MEMBERS = ['master', 'node1', 'node2'];
const DATA_DIR = '/var/lib/etcd/default.etcd';

jest.setTimeout(15 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc1') };

function endpoints(hosts = MEMBERS): string[] {
  return hosts.map((host) => `http://${addressOf(fleet, host)}:2379`);
}

/** Member name to hex member id, as `etcdctl member list` prints them (ID, STATUS, NAME, ...). */
async function memberIds(onMember = 'master'): Promise<Record<string, string>> {
  const lines = (await onHost(FLEET, onMember, etcdctl(endpoints([onMember]), 'member list'))).split('\n').filter(Boolean);
  return Object.fromEntries(lines.map((line) => line.split(', ')).map((fields) => [fields[2] || `(unstarted ${fields[3]})`, fields[0]]));
}

/** Wipes node2's data dir as a disk replacement does; `startByHand` adds an operator's start that fails. */
async function wipeNode2(startByHand: boolean): Promise<void> {
  await onHost(FLEET, 'node2', `systemctl stop etcd; rm -rf ${DATA_DIR}${startByHand ? '; systemctl start --no-block etcd; sleep 3' : ''}`);
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  worker = startWorker(env);
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
});

describe('etcd member registered without data', () => {
  let idsBefore: Record<string, string>;

  test('apply builds three members', async () => {
    const result = await runKboot(['apply', fleet.specFile], env);
    if (result.code !== 0) throw new Error(`kboot apply: ${describeRun(result)}\nworker:\n${worker.output().slice(-4000)}`);
    idsBefore = await memberIds();
    expect(Object.keys(idsBefore).sort()).toEqual(MEMBERS);
    await onHost(FLEET, 'master', etcdctl(endpoints(['master']), 'put /fc1/written-before-wipe yes'));
  });

  test('wiped member is removed and re-added', async () => {
    await wipeNode2(true);
    expect(await onHost(FLEET, 'node2', 'systemctl is-active etcd || true')).not.toBe('active\n');
    const startsBefore = await readCounters(FLEET, ['master', 'node1']);

    const result = await runKboot(['apply', fleet.specFile], env);
    if (result.code !== 0) throw new Error(`kboot apply: ${describeRun(result)}\nworker:\n${worker.output().slice(-4000)}`);
    expect(result.stdout).toMatch(/node2: etcd repaired/);

    const idsAfter = await memberIds();
    expect(Object.keys(idsAfter).sort()).toEqual(MEMBERS);
    expect(idsAfter.master).toBe(idsBefore.master);
    expect(idsAfter.node1).toBe(idsBefore.node1);
    expect(idsAfter.node2).not.toBe(idsBefore.node2);

    const health = await onHost(FLEET, 'master', `${etcdctl(endpoints(), 'endpoint health')} 2>&1`);
    expect(health.split('\n').filter((line) => line.includes(' is healthy'))).toHaveLength(3);
    // A serializable read is served from node2's own copy of the data.
    expect(await onHost(FLEET, 'node2', etcdctl(endpoints(['node2']), 'get --consistency=s --print-value-only /fc1/written-before-wipe'))).toBe('yes\n');

    // The join settings are gone once node2 has data, so a second wipe cannot reuse its identity.
    expect(await onHost(FLEET, 'node2', 'test -e /etc/etcd/kboot-membership.env && echo present || echo absent')).toBe('absent\n');
    expect(await onHost(FLEET, 'node2', 'cat /etc/etcd/etcd.conf')).toContain('ETCD_INITIAL_CLUSTER_STATE="new"');
    const startsAfter = await readCounters(FLEET, ['master', 'node1']);
    expect(startsAfter.master.start['etcd.service']).toBe(startsBefore.master.start['etcd.service']);
    expect(startsAfter.node1.start['etcd.service']).toBe(startsBefore.node1.start['etcd.service']);
  });

  test('second apply leaves the member alone', async () => {
    const ids = await memberIds();
    const result = await runKboot(['apply', fleet.specFile], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/0 steps applied/);
    expect(await memberIds()).toEqual(ids);
  });
});

describe('etcd member without data, quorum lost', () => {
  let idsBefore: Record<string, string>;

  test('wiped member is refused without quorum', async () => {
    idsBefore = await memberIds();
    // node1's etcd stopped and masked, so kboot cannot start it again: master alone has no quorum.
    await onHost(FLEET, 'node1', 'systemctl stop etcd && systemctl mask etcd');
    await wipeNode2(false);

    const result = await runKboot(['apply', fleet.specFile], env);
    expect(result.code).toBe(4);
    // Without a quorum etcd may still list the members (and the health count reads 0 of 3) or not.
    expect(result.stderr).toMatch(/node2: etcd failed: .*etcd member node2 has no data in \/var\/lib\/etcd\/default\.etcd.*needs a quorum.*Nothing was changed/);
    expect(result.stderr).toMatch(/only 0 of 3 answer \(none\)|cannot list the cluster's members/);
    expect(result.stderr).toMatch(/node1: etcd failed: .*etcd is masked on node1/);
    expect(result.stderr).toMatch(/gate etcd-quorum failed: etcd has no quorum: 0\/3 members healthy/);
    expect(await memberIds()).toEqual(idsBefore);
  });

  test('with quorum back a retry re-adds it', async () => {
    await onHost(FLEET, 'node1', 'systemctl unmask etcd');
    // The quorum gate failed for good too: it found no quorum that waiting could bring back.
    for (const target of ['node1', 'node2', 'gate:etcd-quorum']) {
      const retry = await runKboot(['retry', FLEET, target], env);
      expect([target, retry.code]).toEqual([target, 0]);
    }
    const result = await runKboot(['apply', fleet.specFile], env);
    if (result.code !== 0) throw new Error(`kboot apply after retries: ${describeRun(result)}`);

    const ids = await memberIds();
    expect(Object.keys(ids).sort()).toEqual(MEMBERS);
    expect(ids.node2).not.toBe(idsBefore.node2);
    expect(ids.node1).toBe(idsBefore.node1);
  });
});
