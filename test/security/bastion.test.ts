/**
 * A bastion from the spec's `ssh.jump` on a sandbox fleet whose nodes accept SSH only from the
 * master: `kboot trust` records the bastion and the hosts behind it, a whole rollout runs through
 * it, and a bastion whose key changed is refused with its own name in the message.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { sshEndpoint } from '../../activities/endpoint';
import { HostKeyMismatchError, SshConnectError, SshPool } from '../../activities/ssh/index';
import { parseSpec } from '../../client/spec-file';
import { changeHostKey, down, up, type UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess, REPO_ROOT } from '../helpers/kboot';
import { addressOf, onHost, writeSpec } from './fleet-setup';

const FLEET = 'secjump';
const BASTION = 'gateway';

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let dir: string;
let specFile: string;
let knownHostsFile: string;
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('secjump') };

beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: 3, repoRoot: REPO_ROOT });
  dir = mkdtempSync(join(tmpdir(), 'kboot-secjump-'));
  knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, '');
  specFile = writeSpec(fleet, join(dir, 'cluster.yaml'), (spec) => {
    spec.ssh.knownHostsFile = knownHostsFile;
    spec.ssh.connectTimeout = '5s';
    spec.ssh.jump = { name: BASTION, address: addressOf(fleet, 'master') };
  });
  // The nodes drop SSH from anywhere but the master, so only the bastion reaches them.
  for (const host of ['node1', 'node2']) {
    await onHost(FLEET, host, `iptables -A INPUT -p tcp --dport 22 ! -s ${addressOf(fleet, 'master')} -j DROP`);
  }
  worker = startWorker(env);
});

afterAll(async () => {
  await worker?.stop();
  if (fleet !== undefined) await down(FLEET);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('bastion from the spec', () => {
  let pool: SshPool;

  beforeEach(() => {
    pool = new SshPool();
  });

  afterEach(async () => {
    await pool.close();
  });

  test('nodes unreachable without the bastion', async () => {
    const { spec } = parseSpec(readFileSync(specFile, 'utf8'), specFile);
    const direct = { ...sshEndpoint(spec.ssh, 'node1', addressOf(fleet, 'node1')), jump: undefined };

    const error = await pool.run(direct, 'true', { timeoutMs: 10_000 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).reason).toBe('timed-out');
  });

  test('trust records bastion and hosts', async () => {
    const result = await runKboot(['trust', specFile], env, 120_000);

    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^${BASTION} \\(${addressOf(fleet, 'master')}:22\\): recorded `));
    for (const host of ['master', 'node1', 'node2']) expect(result.stdout).toMatch(new RegExp(`^${host} \\(\\S+:22\\): (recorded|already trusted)`, 'm'));
  });

  test('rollout runs through the bastion', async () => {
    const result = await runKboot(['apply', specFile], env, 5 * 60_000);

    if (result.code !== 0) throw new Error(`kboot apply exited ${result.code}\n${result.stdout}\n${result.stderr}\nworker:\n${worker.output().slice(-4000)}`);
    const log = await onHost(FLEET, 'node1', 'cat /var/log/kboot-sandbox/sshd.service.log');
    expect(log).toMatch(new RegExp(`Accepted publickey for kboot from ${addressOf(fleet, 'master').replace(/\./g, '\\.')} `));
  });

  test('changed bastion key refused', async () => {
    await changeHostKey(FLEET, 'master');
    const { spec } = parseSpec(readFileSync(specFile, 'utf8'), specFile);

    const error = await pool
      .run(sshEndpoint(spec.ssh, 'node1', addressOf(fleet, 'node1')), 'true', { timeoutMs: 10_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(HostKeyMismatchError);
    expect((error as Error).message).toMatch(new RegExp(`^connect to ${BASTION} \\(${addressOf(fleet, 'master')}:22\\): host key mismatch`));
    expect((error as Error).message).toContain(`kboot trust <spec> --replace ${BASTION}`);
  });
});
