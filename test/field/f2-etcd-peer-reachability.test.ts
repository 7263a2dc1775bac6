/**
 * F2: two causes of an etcd member that its peers cannot reach, built at once. On node2 the
 * packaged listen settings (localhost) are in effect: a site drop-in loads them after kboot's
 * etcd.conf. On node1 a host firewall drops tcp/2380. Before the quorum is judged each peer's
 * reachability is checked, and the two causes get different messages, each naming host and port.
 * Once both are fixed, retrying finishes the rollout.
 */
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, onHost, waitForRollout } from '../helpers/rollout';
import { addressOf, describeRun, freshFleet, removeFieldFleet } from './fleet';

const FLEET = 'fc2';
const SITE_DROP_IN = '/etc/systemd/system/etcd.service.d/50-site.conf';
const SITE_CONF = '/etc/etcd/site.conf';
const FIREWALL_RULE = 'INPUT -p tcp --dport 2380 -j DROP';

jest.setTimeout(15 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc2') };

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  // The listen lines of CentOS's packaged etcd.conf, loaded after kboot's etcd.conf.
  await onHost(
    FLEET,
    'node2',
    `mkdir -p ${SITE_DROP_IN.replace(/\/[^/]+$/, '')} /etc/etcd
printf '%s\\n' 'ETCD_LISTEN_PEER_URLS="http://localhost:2380"' 'ETCD_LISTEN_CLIENT_URLS="http://localhost:2379"' > ${SITE_CONF}
printf '%s\\n' '[Service]' 'EnvironmentFile=-${SITE_CONF}' > ${SITE_DROP_IN}`,
  );
  await onHost(FLEET, 'node1', `iptables -A ${FIREWALL_RULE}`);
  worker = startWorker(env);
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
});

describe('unreachable etcd peers', () => {
  let stderr = '';
  let gateError = '';

  test('apply stops before the quorum', async () => {
    const result = await runKboot(['apply', fleet.specFile], env);
    expect(result.code).toBe(4);
    stderr = result.stderr;
    const { client, close } = await connectClient();
    const state = await waitForRollout(client, FLEET, (current) => current.phase === 'waiting-for-operator').finally(close);
    gateError = state.gates['etcd-quorum']?.error ?? '';
    expect(state.gates['etcd-quorum']?.status).toBe('failed');
    expect(state.gates['flannel-network']?.status).toBe('pending');
    expect(state.hosts.master.steps.master?.status).toBe('pending');
  });

  test('localhost listener is named by host and port', () => {
    expect(stderr).toMatch(/node2: etcd failed: .*etcd on node2 listens on 127\.0\.0\.1:2380 for its peers \(ETCD_LISTEN_PEER_URLS\), not [\d.]+:2380 as \/etc\/etcd\/etcd\.conf sets/);
    expect(gateError).toContain(`node2: its etcd step did not succeed (see the host); etcd listens on 127.0.0.1:2380 only, not ${addressOf(fleet, 'node2')}:2380`);
  });

  test('dropped peer port is named by host and port', () => {
    expect(gateError).toContain(`node1: ${addressOf(fleet, 'node1')}:2380 does not answer from master, node2 (connection timed out) although etcd listens there`);
    expect(gateError).toContain('firewall on node1');
  });

  test('the two causes read differently', () => {
    const node1 = gateError.split('; node2: ')[0];
    expect(node1).not.toContain('listens on 127.0.0.1');
    expect(gateError.slice(gateError.indexOf('node2: '))).not.toContain('connection timed out');
  });

  test('fixed hosts finish after retries', async () => {
    await onHost(FLEET, 'node1', `iptables -D ${FIREWALL_RULE}`);
    await onHost(FLEET, 'node2', `rm -f ${SITE_DROP_IN} ${SITE_CONF} && systemctl daemon-reload`);
    for (const target of ['node2', 'gate:etcd-quorum']) {
      const retry = await runKboot(['retry', FLEET, target], env);
      expect([target, retry.code]).toEqual([target, 0]);
    }
    const result = await runKboot(['apply', fleet.specFile], env);
    if (result.code !== 0) throw new Error(`kboot apply after the fixes: ${describeRun(result)}`);
    expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
    const listeners = await onHost(FLEET, 'node2', "ss -Hltn 'sport = :2380' | awk '{print $4}'");
    expect(listeners.trim()).toBe(`${addressOf(fleet, 'node2')}:2380`);
  });
});
