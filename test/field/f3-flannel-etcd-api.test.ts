/**
 * F3: the flannel network key and the two etcd keyspaces. The key is written through the etcd API
 * flannel.etcdApi names and read back the same way with its JSON checked, so a key in the other
 * keyspace (written by an earlier tool) is never taken for it. A v2 API that flannel needs but an
 * etcd member does not serve fails the flannel network gate before any flanneld starts.
 *
 * The sandbox's flanneld is v0.28.9, which reads only the v3 keyspace, so the v2 part stops the
 * rollout once the gate has opened and checks the keyspaces directly.
 */
import type { Client } from '@temporalio/client';
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, onHost, readCounters, waitForRollout } from '../helpers/rollout';
import { describeRun, etcdctl, freshFleet, writeSpec, removeFieldFleet } from './fleet';

const FLEET = 'fc3';
const KEY = '/kboot.io/network/config';
const NODES = ['node1', 'node2'];
const SPEC_CONFIG = { Network: '10.244.0.0/16', SubnetLen: 24, Backend: { Type: 'vxlan' } };
const STALE_CONFIG = { Network: '10.99.0.0/16', SubnetLen: 24, Backend: { Type: 'vxlan' } };
const SITE_DROP_IN = '/etc/systemd/system/etcd.service.d/50-site.conf';
const SITE_CONF = '/etc/etcd/site.conf';

jest.setTimeout(15 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let temporal: { client: Client; close: () => Promise<void> };
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc3') };

const local = ['http://127.0.0.1:2379'];

async function v3Value(): Promise<unknown> {
  return JSON.parse(await onHost(FLEET, 'master', etcdctl(local, `get --print-value-only ${KEY}`)));
}

async function v2Value(): Promise<unknown> {
  const body = JSON.parse(await onHost(FLEET, 'master', `curl -fsS http://127.0.0.1:2379/v2/keys${KEY}`)) as { node: { value: string } };
  return JSON.parse(body.node.value);
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  // A site setting on node1 that turns etcd's v2 API off, loaded after kboot's etcd.conf.
  await onHost(
    FLEET,
    'node1',
    `mkdir -p ${SITE_DROP_IN.replace(/\/[^/]+$/, '')} /etc/etcd
echo 'ETCD_ENABLE_V2="false"' > ${SITE_CONF}
printf '%s\\n' '[Service]' 'EnvironmentFile=-${SITE_CONF}' > ${SITE_DROP_IN}`,
  );
  worker = startWorker(env);
  temporal = await connectClient();
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
  await temporal?.close();
});

test('disabled v2 API fails before flanneld', async () => {
  const v2Spec = writeSpec(fleet, 'flannel-v2.yaml', (spec) => {
    spec.flannel = { ...spec.flannel, etcdApi: 'v2' };
  });
  const result = await runKboot(['apply', v2Spec], env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/gate flannel-network failed: etcd on node1 does not serve the v2 API \(HTTP 404 from \/v2\/keys on port 2379\), which flannel\.etcdApi v2 needs/);

  const state = await waitForRollout(temporal.client, FLEET, (current) => current.phase === 'waiting-for-operator');
  for (const node of NODES) expect([node, state.hosts[node].steps.flanneld?.status]).toEqual([node, 'pending']);
  const counters = await readCounters(FLEET, NODES);
  for (const node of NODES) expect([node, counters[node].start?.['flanneld.service']]).toEqual([node, undefined]);
});

test('v2 key is written and read back through v2', async () => {
  // The key as a tool speaking the other API left it: in the v3 keyspace, with another network.
  await onHost(FLEET, 'master', etcdctl(local, `put ${KEY} '${JSON.stringify(STALE_CONFIG)}'`));
  await onHost(FLEET, 'node1', `rm -f ${SITE_DROP_IN} ${SITE_CONF} && systemctl daemon-reload && systemctl restart etcd`);

  expect((await runKboot(['retry', FLEET, 'gate:flannel-network'], env)).code).toBe(0);
  await waitForRollout(temporal.client, FLEET, (current) => current.gates['flannel-network']?.status === 'open');
  await temporal.client.workflow.getHandle(`kboot-${FLEET}`).terminate('the sandbox flanneld reads only the v3 keyspace');

  expect(await v2Value()).toEqual(SPEC_CONFIG);
  expect(await v3Value()).toEqual(STALE_CONFIG);
});

test('v3 spec rewrites the v3 key for flanneld', async () => {
  const result = await runKboot(['apply', fleet.specFile], env);
  if (result.code !== 0) throw new Error(`kboot apply with flannel.etcdApi v3: ${describeRun(result)}\nworker:\n${worker.output().slice(-4000)}`);

  expect(await v3Value()).toEqual(SPEC_CONFIG);
  for (const node of NODES) {
    const subnetEnv = await onHost(FLEET, node, 'cat /run/flannel/subnet.env');
    expect([node, /^FLANNEL_NETWORK=(\S+)$/m.exec(subnetEnv)?.[1]]).toEqual([node, SPEC_CONFIG.Network]);
    expect([node, /^FLANNEL_SUBNET=(\S+)$/m.exec(subnetEnv)?.[1]]).toEqual([node, expect.stringMatching(/^10\.244\.\d+\.1\/24$/)]);
  }
});
