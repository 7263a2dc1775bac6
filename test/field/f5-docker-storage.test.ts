/**
 * F5: `docker info` on node1 shows devicemapper loop-lvm (the package's default, started before
 * kboot), and the spec asks for a thin pool and a custom data root. The docker step fails with
 * "needs wiping the docker data root" and changes nothing, unless the spec allows the wipe. On a
 * fresh host (node2) the storage is in place before docker's first start. A production spec with
 * loop-lvm is rejected at validation.
 */
import { Client } from '@temporalio/client';
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, onHost, readCounters } from '../helpers/rollout';
import { dockerInfo, startDockerAsPackaged } from './docker-preinstalled';
import { describeRun, freshFleet, writeSpec, removeFieldFleet } from './fleet';

const FLEET = 'fc5';
const THIN_POOL = '/dev/mapper/docker-thinpool';
// A custom data root on the host's own disk: a sandbox host shares the machine's / outside /etc, /usr,
// /var, /root, /home, /opt and /tmp.
const DATA_ROOT = '/opt/docker';
const NODES = ['node1', 'node2'];

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let temporal: { client: Client; close: () => Promise<void> };
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc5') };

function productionSpec(file: string, allowDataRootWipe: boolean): string {
  return writeSpec(fleet, file, (spec) => {
    spec.docker = { dataRoot: DATA_ROOT, storageDriver: 'devicemapper', storageOptions: [`dm.thinpooldev=${THIN_POOL}`], allowDataRootWipe };
  });
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  // Hosts share the machine's /dev, so the thin pool is declared to the sandbox dockerd instead.
  for (const node of NODES) await onHost(FLEET, node, `mkdir -p /etc/kboot-sandbox/devices/dev/mapper && touch /etc/kboot-sandbox/devices${THIN_POOL}`);
  await startDockerAsPackaged(fleet, 'node1');
  worker = startWorker(env);
  temporal = await connectClient();
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
  await temporal?.close();
});

test('validation rejects loop-lvm without the lab flag', async () => {
  const loopLvm = { storageDriver: 'devicemapper' as const, storageOptions: [] };
  const production = writeSpec(fleet, 'loop-lvm.yaml', (spec) => {
    spec.docker = loopLvm;
  });
  const rejected = await runKboot(['validate', production], env);
  expect(rejected.code).toBe(2);
  expect(rejected.stderr).toMatch(/docker\.storageOptions: devicemapper without dm\.thinpooldev runs loop-lvm/);
  expect(rejected.stderr).toContain('docker.allowLoopLvm: true');

  const lab = writeSpec(fleet, 'loop-lvm-lab.yaml', (spec) => {
    spec.docker = { ...loopLvm, allowLoopLvm: true };
  });
  const accepted = await runKboot(['validate', lab], env);
  expect(accepted.code).toBe(0);
  expect(accepted.stderr).toMatch(/warning: .*docker\.allowLoopLvm: docker runs devicemapper loop-lvm/);
});

test('node1 starts with loop-lvm docker', async () => {
  const info = await dockerInfo(FLEET, 'node1');
  expect(info).toContain('Storage Driver: devicemapper');
  expect(info).toContain('Data loop file: /var/lib/docker/devicemapper/devicemapper/data');
});

test('loop-lvm is kept without the wipe flag', async () => {
  const storageBefore = await onHost(FLEET, 'node1', 'cat /etc/sysconfig/docker-storage');
  const result = await runKboot(['apply', productionSpec('thin-pool.yaml', false)], env);
  if (result.code !== 4) throw new Error(`kboot apply: ${describeRun(result)}\nworker:\n${worker.output().slice(-6000)}`);
  expect(result.stderr).toMatch(
    /node1: docker failed: .*docker on node1: running with devicemapper loop-lvm, data root \/var\/lib\/docker \(0 images, 0 containers\); the spec asks for devicemapper on thin pool \/dev\/mapper\/docker-thinpool with data root \/opt\/docker, which needs wiping the docker data root \/var\/lib\/docker/,
  );
  expect(result.stderr).not.toMatch(/node2: docker failed/);

  expect(await onHost(FLEET, 'node1', 'cat /etc/sysconfig/docker-storage')).toBe(storageBefore);
  expect(await dockerInfo(FLEET, 'node1')).toContain('Data loop file: /var/lib/docker/devicemapper/devicemapper/data');
  expect(await onHost(FLEET, 'node1', `test -e ${DATA_ROOT} && echo present || echo absent`)).toBe('absent\n');
});

test('fresh node2 gets the thin pool at first start', async () => {
  const info = await dockerInfo(FLEET, 'node2');
  expect(info).toContain('Pool Name: docker-thinpool');
  expect(info).toContain(`Docker Root Dir: ${DATA_ROOT}`);
  expect(info).not.toContain('Data loop file');
  expect((await readCounters(FLEET, ['node2'])).node2.start['docker.service']).toBe(1);
  expect(await onHost(FLEET, 'node2', 'test -e /var/lib/docker/devicemapper && echo present || echo absent')).toBe('absent\n');
});

test('wipe flag replaces loop-lvm with the thin pool', async () => {
  expect((await runKboot(['abort', FLEET], env)).code).toBe(0);
  await temporal.client.workflow
    .getHandle(`kboot-${FLEET}`)
    .result()
    .catch(() => undefined);
  const node2Starts = (await readCounters(FLEET, ['node2'])).node2.start['docker.service'];

  const result = await runKboot(['apply', productionSpec('thin-pool-wipe.yaml', true)], env);
  if (result.code !== 0) throw new Error(`kboot apply with allowDataRootWipe: ${describeRun(result)}`);

  const info = await dockerInfo(FLEET, 'node1');
  expect(info).toContain('Pool Name: docker-thinpool');
  expect(info).toContain(`Docker Root Dir: ${DATA_ROOT}`);
  expect(info).not.toContain('Data loop file');
  expect(await onHost(FLEET, 'node1', 'ls -A /var/lib/docker')).toBe('');
  expect((await readCounters(FLEET, ['node2'])).node2.start['docker.service']).toBe(node2Starts);
});
