/**
 * Five hosts. Run 1: node3 unreachable, node4 fails its flannel step. node3 is fixed and run 1
 * aborted. Run 2 re-checks every completed step on its host (a hand-broken one is repaired, not
 * trusted) and leaves only node4's flannel step, and what needs it, pending. node4 is fixed; run 3
 * finishes it, and `kboot check` then finds nothing left to resume.
 */
import { startSshd, stopSshd } from '../../sandbox/fleet/index';
import { runKboot } from '../helpers/kboot';
import { connectClient, onHost, readCounters, stepStatus, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'csf10';

jest.setTimeout(15 * 60_000);

const sandbox = useSandboxRollout(FLEET, 5, async () => {
  await stopSshd(FLEET, 'node3');
  // flanneld on node4 gets an interface that does not exist, so its flannel step fails.
  await onHost(FLEET, 'node4', "mkdir -p /etc/sysconfig && echo 'FLANNEL_OPTIONS=\"-iface=kboot-missing0\"' > /etc/sysconfig/docker-network");
});

test('run 1 parks node3 and node4', async () => {
  const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/node3: preflight failed: .*connect to node3/);
  expect(result.stderr).toMatch(/node4: flanneld failed: /);
});

test('run 2 leaves only node4 flannel pending', async () => {
  await startSshd(FLEET, 'node3');
  expect((await runKboot(['abort', FLEET], sandbox.env)).code).toBe(0);
  const { client, close } = await connectClient();
  try {
    await waitForRollout(client, FLEET, (state) => state.phase === 'aborted' || state.phase === 'failed', 60_000).catch(() => undefined);
    const before = await readCounters(FLEET, ['node1']);
    await onHost(FLEET, 'node1', 'systemctl stop kube-proxy');

    const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/node1: node repaired/);
    const state = await waitForRollout(client, FLEET, (current) => current.phase === 'waiting-for-operator');
    const pending = Object.entries(state.hosts).flatMap(([host, hostState]) =>
      Object.entries(hostState.steps)
        .filter(([, step]) => step?.status !== 'done')
        .map(([step, value]) => `${host}:${step}:${value?.status}`),
    );
    expect(pending.sort()).toEqual(['node4:docker:pending', 'node4:flanneld:failed', 'node4:node:pending']);
    expect(stepStatus(state, 'node3', 'node')).toBe('done');
    expect(state.gates['cluster-ready']?.status).toBe('pending');
    const after = await readCounters(FLEET, ['node1']);
    expect(after.node1.start['kube-proxy.service']).toBe(before.node1.start['kube-proxy.service'] + 1);
    expect(after.node1.start['kubelet.service']).toBe(before.node1.start['kubelet.service']);
  } finally {
    await close();
  }
});

test('run 3 finishes, nothing left', async () => {
  await onHost(FLEET, 'node4', 'rm -f /etc/sysconfig/docker-network');
  expect((await runKboot(['retry', FLEET, 'node4'], sandbox.env)).code).toBe(0);
  const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  const check = await runKboot(['check', sandbox.fleet.specFile], sandbox.env);
  expect(check.stdout).toContain('would change');
  expect(check.stdout).toMatch(/31 of 31 steps in place, 0 would change/);
  expect(check.code).toBe(0);
});
