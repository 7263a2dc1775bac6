/**
 * The etcd quorum gate's verdicts, from what the members report: open, degraded (open or failed
 * for good, by etcd.allowDegraded), retry while a member may still settle, and no quorum. The
 * fleet tests (f1, f2, f11) build these states on real hosts; this one covers each verdict
 * against recorded host output, without a fleet.
 */
import { ApplicationFailure } from '@temporalio/common';
import { checkEtcdQuorum, type HostRunner } from '../../activities/etcd-quorum';
import { clusterSpecSchema, type ClusterSpec } from '../../plan/spec';

const ADDRESSES: Record<string, string> = { master: '198.18.50.11', node1: '198.18.50.12', node2: '198.18.50.13' };

function spec(allowDegraded = false): ClusterSpec {
  return clusterSpecSchema.parse({
    name: 'quorum',
    ssh: { user: 'kboot', privateKeyFile: '/k', knownHostsFile: '/h' },
    hosts: Object.entries(ADDRESSES).map(([name, address]) => ({ name, address, roles: ['etcd', ...(name === 'master' ? ['master'] : ['node'])] })),
    packages: { repository: { id: 'r', name: 'r', baseurl: 'file:///r' } },
    flannel: { network: '10.244.0.0/16' },
    etcd: { allowDegraded },
  });
}

interface HostReport {
  state?: string;
  listen?: string[];
  /** Probe results from this host, as `to port result`. */
  probes?: string[];
  unreachable?: boolean;
}

const good = (host: string): HostReport => ({
  state: 'active',
  listen: [`${ADDRESSES[host]}:2380`, `${ADDRESSES[host]}:2379`, '127.0.0.1:2379'],
  probes: Object.keys(ADDRESSES)
    .filter((other) => other !== host)
    .flatMap((other) => [`${other} 2380 ok`, `${other} 2379 ok`]),
});

function runner(reports: Record<string, HostReport>, healthy: string[]): HostRunner {
  return async (host, script) => {
    if (script.startsWith('set +e')) {
      const report = reports[host];
      if (report.unreachable) throw new Error(`connect to ${host}: connection refused`);
      return [`state ${report.state}`, ...(report.listen ?? []).map((address) => `listen ${address}`), ...(report.probes ?? []).map((probe) => `probe ${probe}`)].join('\n');
    }
    const health = Object.entries(ADDRESSES).map(([name, address]) =>
      healthy.includes(name) ? `http://${address}:2379 is healthy: successfully committed proposal: took = 2ms` : `http://${address}:2379 is unhealthy: failed to commit proposal: context deadline exceeded`,
    );
    const members = Object.entries(ADDRESSES).map(([name, address], index) => `${index}a, started, ${name}, http://${address}:2380, http://${address}:2379, false`);
    return `${health.join('\n')}\n--- member list\n${members.join('\n')}\n`;
  };
}

async function verdict(reports: Record<string, HostReport>, healthy: string[], options: { allowDegraded?: boolean; unavailable?: string[] } = {}) {
  try {
    return { result: await checkEtcdQuorum({ spec: spec(options.allowDegraded), host: 'master', unavailable: options.unavailable ?? [], runOn: runner(reports, healthy) }) };
  } catch (error) {
    if (!(error instanceof ApplicationFailure)) throw error;
    return { failure: error };
  }
}

const everyoneGood = { master: good('master'), node1: good('node1'), node2: good('node2') };

test('all members healthy opens', async () => {
  const { result } = await verdict(everyoneGood, ['master', 'node1', 'node2']);
  expect(result?.summary).toBe('etcd quorum: 3/3 members healthy (master, node1, node2)');
  expect(result?.degraded).toBeUndefined();
});

test('localhost listener without allowDegraded fails', async () => {
  const node2 = { ...good('node2'), listen: ['127.0.0.1:2380', '127.0.0.1:2379'] };
  const { failure } = await verdict({ ...everyoneGood, node2 }, ['master', 'node1']);
  expect(failure?.nonRetryable).toBe(true);
  expect(failure?.message).toMatch(/^etcd degraded, quorum 2\/3 \(healthy: master, node1\); node2: etcd listens on 127\.0\.0\.1:2380 only, not 198\.18\.50\.13:2380/);
  expect(failure?.message).toContain('etcd.allowDegraded is off');
});

test('localhost listener with allowDegraded opens degraded', async () => {
  const node2 = { ...good('node2'), listen: ['127.0.0.1:2380', '127.0.0.1:2379'] };
  const { result } = await verdict({ ...everyoneGood, node2 }, ['master', 'node1'], { allowDegraded: true });
  expect(result?.degraded).toMatch(/^etcd degraded, quorum 2\/3 \(healthy: master, node1\); node2: /);
  expect(result?.summary).toBe(result?.degraded);
});

test('dropped peer port fails although etcd is healthy', async () => {
  const master = { ...good('master'), probes: ['node1 2380 timeout', 'node1 2379 ok', 'node2 2380 ok', 'node2 2379 ok'] };
  const node2 = { ...good('node2'), probes: ['master 2380 ok', 'master 2379 ok', 'node1 2380 timeout', 'node1 2379 ok'] };
  const { failure } = await verdict({ master, node1: good('node1'), node2 }, ['master', 'node1', 'node2']);
  expect(failure?.nonRetryable).toBe(true);
  expect(failure?.message).toContain('node1: 198.18.50.12:2380 does not answer from master, node2 (connection timed out) although etcd listens there');
});

test('member still starting is retried', async () => {
  const node2 = { ...good('node2'), state: 'activating', listen: [] };
  const { failure } = await verdict({ ...everyoneGood, node2 }, ['master', 'node1'], { allowDegraded: true });
  expect(failure?.nonRetryable).toBe(false);
  expect(failure?.type).toBe('GateNotReady');
  expect(failure?.message).toContain('node2: etcd does not listen on 198.18.50.13:2380 (peers) yet');
});

test('two failed members leave no quorum', async () => {
  const failed = { state: 'failed', listen: [] };
  const { failure } = await verdict({ master: { ...good('master'), state: 'activating' }, node1: failed, node2: { unreachable: true } }, [], {
    allowDegraded: true,
    unavailable: ['node1', 'node2'],
  });
  expect(failure?.nonRetryable).toBe(true);
  expect(failure?.message).toMatch(/^etcd has no quorum: 0\/3 members healthy \(none\), 2 needed; master: etcd is activating but not healthy yet/);
  expect(failure?.message).toContain('node1: its etcd step did not succeed (see the host); etcd is failed');
  expect(failure?.message).toContain('node2: its etcd step did not succeed (see the host); cannot be inspected over SSH: connect to node2: connection refused');
});
