/**
 * The sandbox fleet for real: a 3-host fleet on this machine (needs root, network namespaces and
 * overlayfs), reached over real SSH and through nsenter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  changeHostKey,
  cutLink,
  fillDisk,
  freeDisk,
  restoreLink,
  slowLink,
  startSshd,
  stopSshd,
  throttleLink,
  FaultNotSupportedError,
} from '../../sandbox/fleet/faults';
import { readEvents } from '../../sandbox/fleet/events';
import { down } from '../../sandbox/fleet/down';
import { hostExec, hostExecChecked } from '../../sandbox/fleet/exec';
import { standinBinDir } from '../../sandbox/fleet/names';
import { run, type RunResult } from '../../sandbox/fleet/run';
import { status } from '../../sandbox/fleet/status';
import { sshClientOptions, up, type UpResult } from '../../sandbox/fleet/up';

const FLEET = 'tfleet';
const INDEX = 110;
const ROOT = '/srv/kboot-sandbox';
const REPO_ROOT = path.resolve(__dirname, '../..');

let fleet: UpResult;

function ssh(address: string, command: string[], options: { knownHostsFile?: string; connectTimeoutSeconds?: number; input?: string } = {}): Promise<RunResult> {
  return run(
    [
      'ssh',
      ...sshClientOptions(fleet.privateKeyFile, options.knownHostsFile ?? fleet.knownHostsFile, options.connectTimeoutSeconds ?? 5),
      `kboot@${address}`,
      ...command,
    ],
    { timeoutMs: 30_000, input: options.input },
  );
}

function addressOf(host: string): string {
  return fleet.hosts.find((entry) => entry.name === host)!.address;
}

beforeAll(async () => {
  await down(FLEET, { root: ROOT });
  fleet = await up({ name: FLEET, hosts: 3, index: INDEX, root: ROOT, repoRoot: REPO_ROOT, diskMiB: 128 });
}, 600_000);

afterAll(async () => {
  await down(FLEET, { root: ROOT });
}, 120_000);

describe('sandbox fleet', () => {
  test('up writes key, known_hosts and spec', () => {
    expect(fleet.created).toBe(true);
    expect(fleet.hosts.map((host) => host.address)).toEqual(['198.18.110.11', '198.18.110.12', '198.18.110.13']);
    expect(fs.statSync(fleet.privateKeyFile).mode & 0o077).toBe(0);
    const knownHosts = fs.readFileSync(fleet.knownHostsFile, 'utf8');
    for (const host of fleet.hosts) expect(knownHosts).toContain(`${host.address} ssh-ed25519 `);
    const spec = fs.readFileSync(fleet.specFile, 'utf8');
    expect(spec).toContain('privateKeyFile: /srv/kboot-sandbox/tfleet/id_ed25519');
    expect(spec).toContain(`baseurl: file://${REPO_ROOT}/sandbox/repo`);
  });

  test('second up is a no-op', async () => {
    const again = await up({ name: FLEET, hosts: 3, index: INDEX, root: ROOT, repoRoot: REPO_ROOT, skipPrerequisites: true });
    expect(again.created).toBe(false);
  });

  test('up with another layout is rejected', async () => {
    await expect(up({ name: FLEET, hosts: 4, index: INDEX, root: ROOT, repoRoot: REPO_ROOT, skipPrerequisites: true })).rejects.toThrow(
      /already exists with 3 hosts.*run down tfleet first/,
    );
  });

  test('sshd accepts the fleet key with sudo', async () => {
    for (const host of fleet.hosts) {
      const result = await ssh(host.address, ['sh', '-c', 'hostname; id -un; sudo -n id -u']);
      expect(result.stderr).toBe('');
      expect(result.stdout.split('\n')).toEqual([host.name, 'kboot', '0', '']);
    }
  });

  test('systemd stand-in started only sshd', async () => {
    for (const host of fleet.hosts) {
      const events = await readEvents(FLEET, host.name, { root: ROOT });
      expect(events.counts).toEqual({ start: { 'sshd.service': 1 } });
      const init = await hostExecChecked(FLEET, host.name, ['cat', '/proc/1/comm'], { timeoutMs: 10_000, root: ROOT });
      expect(init.stdout.trim()).toBe('systemd');
    }
    // The machine's own enabled units (Debian's etcd, for one) must not run in a host.
    const etcd = await hostExec(FLEET, 'master', ['pgrep', '-x', 'etcd'], { timeoutMs: 10_000, root: ROOT });
    expect(etcd.exitCode).toBe(1);
  });

  test('ssh without known_hosts entry fails', async () => {
    const empty = path.join(ROOT, FLEET, 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    const result = await ssh(addressOf('node1'), ['true'], { knownHostsFile: empty });
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toMatch(/Host key verification failed/);
  });

  test('hostnames are private per host', async () => {
    const machineHostname = fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
    for (const host of fleet.hosts) {
      const result = await hostExecChecked(FLEET, host.name, ['hostname'], { timeoutMs: 10_000, root: ROOT });
      expect(result.stdout.trim()).toBe(host.name);
    }
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()).toBe(machineHostname);
  });

  test('/etc is private per host', async () => {
    const probe = '/etc/kboot-sandbox-probe';
    await hostExecChecked(FLEET, 'master', ['sh', '-c', `echo master > ${probe}`], { timeoutMs: 10_000, root: ROOT });
    const onMaster = await hostExec(FLEET, 'master', ['cat', probe], { timeoutMs: 10_000, root: ROOT });
    const onNode = await hostExec(FLEET, 'node1', ['cat', probe], { timeoutMs: 10_000, root: ROOT });
    expect(onMaster.stdout).toBe('master\n');
    expect(onNode.exitCode).toBe(1);
    expect(fs.existsSync(probe)).toBe(false);
  });

  test('host keys differ between hosts and from the machine', async () => {
    const keys = await Promise.all(
      fleet.hosts.map((host) => hostExecChecked(FLEET, host.name, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'], { timeoutMs: 10_000, root: ROOT })),
    );
    const material = keys.map((result) => result.stdout.split(' ')[1]);
    expect(new Set(material).size).toBe(fleet.hosts.length);
    if (fs.existsSync('/etc/ssh/ssh_host_ed25519_key.pub')) {
      expect(material).not.toContain(fs.readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8').split(' ')[1]);
    }
  });

  test('host cannot see the sandbox root', async () => {
    const result = await hostExec(FLEET, 'node1', ['ls', '-A', ROOT], { timeoutMs: 10_000, root: ROOT });
    expect(result.stdout).toBe('');
  });

  test("host hides the machine's root home", async () => {
    const listing = await hostExecChecked(FLEET, 'node1', ['ls', '-A', '/root'], { timeoutMs: 10_000, root: ROOT });
    expect(listing.stdout.split('\n').filter(Boolean).sort()).toEqual(['.bash_profile', '.bashrc']);
  });

  test('stand-ins served from /usr/libexec', async () => {
    // Daemons that drop root (etcd runs as User=etcd) must reach them, so not under /root.
    const standin = await hostExec(FLEET, 'node1', ['sudo', '-u', 'kboot', 'test', '-x', '/usr/libexec/kboot-sandbox/systemctl'], { timeoutMs: 10_000, root: ROOT });
    expect(standin.exitCode).toBe(0);
    const link = await hostExecChecked(FLEET, 'node1', ['readlink', '/usr/bin/systemctl'], { timeoutMs: 10_000, root: ROOT });
    expect(link.stdout.trim()).toBe('/usr/libexec/kboot-sandbox/systemctl');
  });

  test('pkill in one host spares others', async () => {
    const marker = ['sleep', '4242'];
    for (const host of ['master', 'node1']) {
      await hostExecChecked(FLEET, host, ['sh', '-c', 'setsid sleep 4242 </dev/null >/dev/null 2>&1 &'], { timeoutMs: 10_000, root: ROOT });
    }
    const killed = await hostExec(FLEET, 'master', ['pkill', '-f', marker.join(' ')], { timeoutMs: 10_000, root: ROOT });
    expect(killed.exitCode).toBe(0);
    const onMaster = await hostExec(FLEET, 'master', ['pgrep', '-f', marker.join(' ')], { timeoutMs: 10_000, root: ROOT });
    const onNode = await hostExec(FLEET, 'node1', ['pgrep', '-f', marker.join(' ')], { timeoutMs: 10_000, root: ROOT });
    expect(onMaster.exitCode).toBe(1);
    expect(onNode.exitCode).toBe(0);
    // The host's PID namespace shows none of the machine's processes.
    const jest = await hostExec(FLEET, 'node1', ['pgrep', '-f', 'jest'], { timeoutMs: 10_000, root: ROOT });
    expect(jest.exitCode).toBe(1);
    await hostExec(FLEET, 'node1', ['pkill', '-f', marker.join(' ')], { timeoutMs: 10_000, root: ROOT });
  });

  test('hostExec passes stdin', async () => {
    const result = await hostExecChecked(FLEET, 'node2', ['cat'], { input: 'hello node2\n', timeoutMs: 10_000, root: ROOT });
    expect(result.stdout).toBe('hello node2\n');
  });

  test('hostExec timeout kills the command', async () => {
    const started = Date.now();
    const result = await hostExec(FLEET, 'node2', ['sleep', '4343'], { timeoutMs: 500, root: ROOT });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    const left = await hostExec(FLEET, 'node2', ['pgrep', '-f', 'sleep 4343'], { timeoutMs: 10_000, root: ROOT });
    expect(left.exitCode).toBe(1);
  });

  test('cut link times out ssh, restore fixes it', async () => {
    await cutLink(FLEET, 'node2', { root: ROOT });
    const view = await status(FLEET, { root: ROOT });
    expect(view.hosts.find((host) => host.name === 'node2')!.link).toBe('down');

    const started = Date.now();
    const cut = await ssh(addressOf('node2'), ['true'], { connectTimeoutSeconds: 2 });
    expect(cut.exitCode).toBe(255);
    expect(cut.stderr).toMatch(/timed out|No route to host/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The cut host is also unreachable from the other hosts.
    const fromMaster = await hostExec(FLEET, 'master', ['bash', '-c', `exec 3<>/dev/tcp/${addressOf('node2')}/22`], { timeoutMs: 5_000, root: ROOT });
    expect(fromMaster.exitCode).not.toBe(0);

    await restoreLink(FLEET, 'node2', { root: ROOT });
    const restored = await ssh(addressOf('node2'), ['hostname'], { connectTimeoutSeconds: 5 });
    expect(restored.stdout).toBe('node2\n');
  });

  test('throttled link slows transfers', async () => {
    const payload = 'x'.repeat(96 * 1024);
    const timeTransfer = async () => {
      const started = Date.now();
      const result = await ssh(addressOf('node1'), ['wc', '-c'], { input: payload });
      expect(result.stdout.trim()).toBe(String(payload.length));
      return Date.now() - started;
    };
    const baseline = await timeTransfer();
    await throttleLink(FLEET, 'node1', 256, { root: ROOT });
    try {
      // 96 KiB at 256 kbit/s takes about 3 s.
      expect(await timeTransfer()).toBeGreaterThan(Math.max(2_000, baseline * 3));
    } finally {
      await restoreLink(FLEET, 'node1', { root: ROOT });
    }
    expect(await timeTransfer()).toBeLessThan(1_500 + baseline);
  });

  test('slow link delays packets or names missing netem', async () => {
    const roundTrip = async () => {
      const started = Date.now();
      const result = await ssh(addressOf('node1'), ['true']);
      expect(result.exitCode).toBe(0);
      return Date.now() - started;
    };
    const baseline = await roundTrip();
    let applied = true;
    try {
      await slowLink(FLEET, 'node1', 200, { root: ROOT });
    } catch (error) {
      expect(error).toBeInstanceOf(FaultNotSupportedError);
      expect((error as Error).message).toMatch(/no netem qdisc/);
      applied = false;
    }
    try {
      // An SSH login takes several round trips, each 400 ms longer with 200 ms per direction.
      if (applied) expect(await roundTrip()).toBeGreaterThan(baseline + 1_000);
      else expect(await roundTrip()).toBeLessThan(baseline + 1_000);
    } finally {
      await restoreLink(FLEET, 'node1', { root: ROOT });
    }
  });

  test('stopped sshd refuses ssh, start fixes it', async () => {
    await stopSshd(FLEET, 'node2', { root: ROOT });
    const stopped = await ssh(addressOf('node2'), ['true']);
    expect(stopped.exitCode).toBe(255);
    expect(stopped.stderr).toMatch(/Connection refused/);
    const active = await hostExec(FLEET, 'node2', ['systemctl', 'is-active', 'sshd'], { timeoutMs: 10_000, root: ROOT });
    expect(active.stdout.trim()).toBe('inactive');

    await startSshd(FLEET, 'node2', { root: ROOT });
    const started = await ssh(addressOf('node2'), ['hostname']);
    expect(started.stdout).toBe('node2\n');
    const events = await readEvents(FLEET, 'node2', { root: ROOT });
    expect(events.counts.stop?.['sshd.service']).toBe(1);
    expect(events.counts.start?.['sshd.service']).toBe(2);
  });

  test('fill disk gives ENOSPC, free disk fixes it', async () => {
    const bytes = await fillDisk(FLEET, 'node2', '/var/lib/fillme', { root: ROOT });
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
    const write = await hostExec(FLEET, 'node2', ['bash', '-c', 'echo data > /var/lib/etcd-probe'], { timeoutMs: 10_000, root: ROOT });
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/No space left on device/);
    // Other hosts' disks are their own.
    await hostExecChecked(FLEET, 'node1', ['bash', '-c', 'echo data > /var/lib/etcd-probe'], { timeoutMs: 10_000, root: ROOT });

    await freeDisk(FLEET, 'node2', '/var/lib/fillme', { root: ROOT });
    await hostExecChecked(FLEET, 'node2', ['bash', '-c', 'echo data > /var/lib/etcd-probe'], { timeoutMs: 10_000, root: ROOT });
  });

  test('fill disk rejects paths off the disk', async () => {
    await expect(fillDisk(FLEET, 'node2', '/run/x', { root: ROOT })).rejects.toThrow(/not on the host's disk/);
  });

  test('changed host key fails verification', async () => {
    const lines = await changeHostKey(FLEET, 'node1', { root: ROOT });
    expect(lines[0]).toMatch(/^198\.18\.110\.12 ssh-ed25519 /);
    const mismatch = await ssh(addressOf('node1'), ['true']);
    expect(mismatch.exitCode).toBe(255);
    expect(mismatch.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

    await changeHostKey(FLEET, 'node1', { root: ROOT, updateKnownHosts: true });
    const fixed = await ssh(addressOf('node1'), ['hostname']);
    expect(fixed.stdout).toBe('node1\n');
  });

  test('down removes everything, twice', async () => {
    const result = await down(FLEET, { root: ROOT });
    expect(result.removedNetns.sort()).toEqual(['kb-tfleet-master', 'kb-tfleet-node1', 'kb-tfleet-node2']);
    expect(result.removedBridge).toBe(true);

    const netns = await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
    expect(netns.stdout).not.toMatch(/kb-tfleet-/);
    expect(fs.readdirSync('/sys/class/net').filter((link) => link === 'kbbr110' || link.startsWith('kbv110h'))).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`${ROOT}/${FLEET}`);
    expect(fs.existsSync(path.join(ROOT, FLEET))).toBe(false);
    const sshd = await run(['pgrep', '-f', `ListenAddress|198.18.110.`], { timeoutMs: 10_000 });
    expect(sshd.stdout).toBe('');

    const again = await down(FLEET, { root: ROOT });
    expect(again.removedNetns).toEqual([]);
    expect(again.removedBridge).toBe(false);
  });
});
