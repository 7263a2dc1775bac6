/**
 * F4: docker on node1 was started by the package install before flannel had a lease, so docker0
 * holds 172.17.0.1/16 with docker's masquerade rule for it. kboot orders docker after flanneld with
 * a drop-in, removes the stale bridge and its rule, starts docker again, and checks docker0's
 * address and MTU against the lease. On node2 a site drop-in pins docker's MTU, and the mismatch
 * fails the docker step with both values.
 */
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, onHost, readCounters, waitForRollout } from '../helpers/rollout';
import { DOCKER_DEFAULT_BRIDGE, startDockerAsPackaged } from './docker-preinstalled';
import { describeRun, freshFleet, removeFieldFleet } from './fleet';

const FLEET = 'fc4';
const SITE_DROP_IN = '/etc/systemd/system/docker.service.d/50-site-mtu.conf';

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc4') };

async function lease(host: string): Promise<{ subnet: string; mtu: string }> {
  const subnetEnv = await onHost(FLEET, host, 'cat /run/flannel/subnet.env');
  return { subnet: /^FLANNEL_SUBNET=(\S+)$/m.exec(subnetEnv)?.[1] ?? '', mtu: /^FLANNEL_MTU=(\d+)$/m.exec(subnetEnv)?.[1] ?? '' };
}

async function bridgeAddresses(host: string): Promise<string[]> {
  return (await onHost(FLEET, host, "ip -4 -o addr show dev docker0 | awk '{print $4}'")).split('\n').filter(Boolean);
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  await startDockerAsPackaged(fleet, 'node1', '--storage-driver=overlay2 --graph=/var/lib/docker');
  worker = startWorker(env);
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
});

test('node1 starts with the default bridge', async () => {
  expect(await bridgeAddresses('node1')).toEqual([DOCKER_DEFAULT_BRIDGE]);
  expect(await onHost(FLEET, 'node1', 'iptables -t nat -S POSTROUTING')).toContain('-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE');
});

test('apply moves docker0 onto the lease', async () => {
  const result = await runKboot(['apply', fleet.specFile], env);
  if (result.code !== 0) throw new Error(`kboot apply: ${describeRun(result)}\nworker:\n${worker.output().slice(-4000)}`);

  const { subnet, mtu } = await lease('node1');
  expect(subnet).toMatch(/^10\.244\.\d+\.1\/24$/);
  expect(await bridgeAddresses('node1')).toEqual([subnet]);
  expect((await onHost(FLEET, 'node1', 'cat /sys/class/net/docker0/mtu')).trim()).toBe(mtu);
  const commandLine = await onHost(FLEET, 'node1', "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value docker)/cmdline");
  expect(commandLine.split('\n')).toEqual(expect.arrayContaining([`--bip=${subnet}`, `--mtu=${mtu}`]));
});

test('stale masquerade rule is gone', async () => {
  const rules = await onHost(FLEET, 'node1', 'iptables -t nat -S POSTROUTING');
  expect(rules).not.toContain('172.17.0.0/16');
  const network = (await lease('node1')).subnet.replace(/\.1\/24$/, '.0/24');
  expect(rules).toContain(`-A POSTROUTING -s ${network} ! -o docker0 -j MASQUERADE`);
});

test('docker was stopped and started again', async () => {
  const counts = (await readCounters(FLEET, ['node1'])).node1;
  expect(counts.start['docker.service']).toBe(2);
  expect(counts.stop['docker.service']).toBe(1);
});

test('drop-in orders docker after flanneld', async () => {
  expect((await onHost(FLEET, 'node1', 'systemctl show -p After --value docker')).split(/\s+/)).toContain('flanneld.service');
  expect((await onHost(FLEET, 'node1', 'systemctl show -p Requires --value docker')).split(/\s+/)).toContain('flanneld.service');
});

test('pinned MTU fails showing both values', async () => {
  // An operator's drop-in that appends --mtu=1500 after flannel's options.
  await onHost(
    FLEET,
    'node2',
    `mkdir -p /etc/systemd/system/docker.service.d
sed -n '/^ExecStart=/,/REGISTRIES/p' /usr/lib/systemd/system/docker.service | sed 's/\\$REGISTRIES$/$REGISTRIES --mtu=1500/' > /tmp/execstart
{ echo '[Service]'; echo 'ExecStart='; cat /tmp/execstart; } > ${SITE_DROP_IN}
systemctl daemon-reload && systemctl restart docker`,
  );
  const result = await runKboot(['apply', fleet.specFile], env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/node2: docker failed: .*docker0 matches the flannel lease/);

  const { client, close } = await connectClient();
  const state = await waitForRollout(client, FLEET, (current) => current.phase === 'waiting-for-operator').finally(close);
  const error = state.hosts.node2.failure?.error ?? '';
  const { subnet, mtu } = await lease('node2');
  expect(mtu).not.toBe('1500');
  expect(error).toContain(`docker0 has ${subnet} mtu 1500, flannel lease is ${subnet} mtu ${mtu}`);
});
