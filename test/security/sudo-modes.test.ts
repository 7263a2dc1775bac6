/**
 * Sudo as real fleets have it, through `kboot apply` on a sandbox fleet:
 *  - master's sudoers sets requiretty: kboot notices and runs its scripts on a pseudo-terminal;
 *  - node1 is reached as root and runs its scripts without sudo;
 *  - node2's sudo wants a password that the spec does not give: it fails at once, not retried;
 *  - node3 has two preflight problems, a wrong hostname and a taken kubelet port.
 * The rollout parks node2 and node3, and `kboot apply` lists both with every problem.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { down, up, type UpResult } from '../../sandbox/fleet/index';
import type { RolloutState } from '../../workflows/definitions';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess, REPO_ROOT } from '../helpers/kboot';
import { onHost, setSudoers, setUserPassword, writeSpec } from './fleet-setup';

const FLEET = 'secmodes';

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let dir: string;
let specFile: string;
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('secmodes') };

beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: 4, repoRoot: REPO_ROOT });
  dir = mkdtempSync(join(tmpdir(), 'kboot-secmodes-'));
  specFile = writeSpec(fleet, join(dir, 'cluster.yaml'), (spec) => {
    spec.hosts[1].ssh = { user: 'root', sudo: false };
  });

  await setSudoers(FLEET, 'master', ['Defaults:kboot requiretty', 'kboot ALL=(ALL:ALL) NOPASSWD: ALL']);
  await setUserPassword(FLEET, 'node2', 'node2-sudo-password');
  await setSudoers(FLEET, 'node2', ['kboot ALL=(ALL:ALL) ALL']);
  await onHost(FLEET, 'node3', 'hostname node3-renamed');
  // A listener that preflight must find on the kubelet's port; it ends with the fleet or in 10 minutes.
  await onHost(
    FLEET,
    'node3',
    `setsid python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 10250)); s.listen(); time.sleep(600)' </dev/null >/dev/null 2>&1 &
for attempt in $(seq 50); do ss -Hltn "sport = :10250" | grep -q . && exit 0; sleep 0.1; done; exit 1`,
  );
  worker = startWorker(env);
});

afterAll(async () => {
  await runKboot(['abort', FLEET], env, 60_000).catch(() => undefined);
  await worker?.stop();
  if (fleet !== undefined) await down(FLEET);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('sudo modes on the sandbox fleet', () => {
  let applied: Awaited<ReturnType<typeof runKboot>>;
  let state: RolloutState;

  beforeAll(async () => {
    applied = await runKboot(['apply', specFile], env, 5 * 60_000);
    const status = await runKboot(['status', FLEET, '--json'], env, 60_000);
    if (status.stdout === '') throw new Error(`kboot status exited ${status.code}: ${status.stderr}\napply: ${applied.stdout}\n${applied.stderr}`);
    state = (JSON.parse(status.stdout) as { state: RolloutState }).state;
  });

  test('apply waits for the operator', () => {
    if (applied.code !== 4) throw new Error(`kboot apply exited ${applied.code}\n${applied.stdout}\n${applied.stderr}\nworker:\n${worker.output().slice(-5000)}`);
    expect(applied.code).toBe(4);
  });

  test('apply lists every failed host', () => {
    expect(applied.stderr).toMatch(/node2: preflight failed: .*sudo needs a password for user kboot/);
    expect(applied.stderr).toMatch(/node3: preflight failed: .*hostname is node3-renamed, the spec names this host node3/);
    expect(applied.stderr).toMatch(/node3: preflight failed: .*port 10250 is held by python3, needed by kubelet/);
    expect(applied.stderr).not.toMatch(/master: preflight failed/);
    expect(applied.stderr).not.toMatch(/node1: preflight failed/);
  });

  test('requiretty host runs on a pty', () => {
    expect(state.hosts.master.steps.preflight?.status).toBe('done');
    expect(state.hosts.master.steps.etcd?.status).toBe('done');
    expect(worker.output()).toMatch(/sudo requires a tty; running the script again with a pseudo-terminal[^}]*host: 'master'/);
  });

  test('root host runs without sudo', async () => {
    expect(state.hosts.node1.steps.preflight?.status).toBe('done');
    expect(state.hosts.node1.steps.etcd?.status).toBe('done');
    expect(await onHost(FLEET, 'node1', 'stat -c %U /var/lib/kboot/steps/etcd.json')).toBe('root\n');
  });

  test('sudo password fails fast, unretried', async () => {
    const preflight = state.hosts.node2.steps.preflight;
    expect(preflight?.status).toBe('failed');
    // Four attempts with backoff would take 14 s or more.
    expect((preflight?.finishedAt ?? 0) - (preflight?.startedAt ?? 0)).toBeLessThan(10_000);
    expect((await onHost(FLEET, 'node2', 'ls /var/lib/kboot 2>/dev/null || true')).trim()).toBe('');
  });

  test('preflight problems reported at once', () => {
    const preflight = state.hosts.node3.steps.preflight;
    expect(preflight?.status).toBe('failed');
    expect((preflight?.finishedAt ?? 0) - (preflight?.startedAt ?? 0)).toBeLessThan(10_000);
  });

  test('status lists the failed hosts', async () => {
    const status = await runKboot(['status', FLEET], env, 60_000);

    expect(status.code).toBe(4);
    expect(status.stdout).toContain('sudo needs a password for user kboot');
    expect(status.stdout).toContain('hostname is node3-renamed');
  });
});
