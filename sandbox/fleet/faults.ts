/**
 * Faults that real fleets have, injected into one sandbox host: a cut or slow link, a stopped sshd, a
 * full disk, a changed host key. Each fault has its repair.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { hostExec, hostExecChecked, requireInitPid } from './exec.js';
import { readFleetRecord, type FleetRecord, type HostLayout } from './layout.js';
import { setHostLink } from './network.js';
import { fleetDir, netnsName, resolveSandboxRoot, vethName } from './names.js';
import { CommandFailedError, describeFailure, run } from './run.js';

export interface FaultOptions {
  /** Sandbox root; defaults to $KBOOT_SANDBOX_ROOT or /srv/kboot-sandbox. */
  root?: string;
}

/** Thrown when a fault cannot be injected on this machine or host; the message gives the reason. */
export class FaultNotSupportedError extends Error {
  override name = 'FaultNotSupportedError';
}

/** File that fillDisk writes into the directory it fills, and freeDisk removes. */
export const FILL_FILE_NAME = '.kboot-sandbox-fill';

const TC_TIMEOUT_MS = 15_000;
const HOST_COMMAND_TIMEOUT_MS = 30_000;

interface HostContext {
  root: string;
  record: FleetRecord;
  host: HostLayout;
}

function hostContext(fleet: string, host: string, options: FaultOptions): HostContext {
  const root = resolveSandboxRoot(options.root);
  requireInitPid(root, fleet, host);
  const record = readFleetRecord(root, fleet)!;
  return { root, record, host: record.hosts.find((entry) => entry.name === host)! };
}

/**
 * Cuts the host off the fleet: its veth on the bridge goes down, so packets to and from the host are
 * dropped and SSH connections to it time out. The host itself keeps running.
 */
export async function cutLink(fleet: string, host: string, options: FaultOptions = {}): Promise<void> {
  const context = hostContext(fleet, host, options);
  await setHostLink(context.record.index, context.host.number, 'down');
}

/** Brings the host's link back up and removes any delay or rate limit set by slowLink or throttleLink. */
export async function restoreLink(fleet: string, host: string, options: FaultOptions = {}): Promise<void> {
  const context = hostContext(fleet, host, options);
  await setHostLink(context.record.index, context.host.number, 'up');
  await clearShaping(context);
}

/**
 * Delays every packet to and from the host by `delayMs` in each direction (tc netem), so the round
 * trip grows by twice `delayMs`. A delay of 0 removes it. Throws FaultNotSupportedError when the kernel
 * has no netem qdisc (CONFIG_NET_SCH_NETEM off); throttleLink works without it.
 */
export async function slowLink(fleet: string, host: string, delayMs: number, options: FaultOptions = {}): Promise<void> {
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 60_000) {
    throw new RangeError(`slow link on ${host}: invalid delay ${delayMs} ms; use an integer from 0 to 60000`);
  }
  const context = hostContext(fleet, host, options);
  if (delayMs === 0) {
    await clearShaping(context);
    return;
  }
  await applyQdisc(context, ['netem', 'delay', `${delayMs}ms`], `slow link on ${host}`);
}

/**
 * Limits the host's link to `rateKbit` kbit/s in each direction (tc tbf), queueing up to 1 s of
 * traffic and dropping the rest: a congested or degraded link. A rate of 0 removes the limit.
 */
export async function throttleLink(fleet: string, host: string, rateKbit: number, options: FaultOptions = {}): Promise<void> {
  if (!Number.isInteger(rateKbit) || rateKbit < 0 || rateKbit > 10_000_000) {
    throw new RangeError(`throttle link on ${host}: invalid rate ${rateKbit} kbit/s; use an integer from 0 to 10000000`);
  }
  const context = hostContext(fleet, host, options);
  if (rateKbit === 0) {
    await clearShaping(context);
    return;
  }
  // tbf needs a bucket of at least one full frame, and at least rate/HZ bytes to reach the rate.
  const burstBytes = Math.max(3_200, Math.ceil((rateKbit * 1000) / 8 / 100));
  await applyQdisc(context, ['tbf', 'rate', `${rateKbit}kbit`, 'burst', String(burstBytes), 'latency', '1s'], `throttle link on ${host}`);
}

/** Qdisc commands for both ends of the host's veth: the bridge side (traffic to the host) and eth0 (from it). */
function qdiscTargets(context: HostContext): string[][] {
  return [
    ['tc', 'qdisc'],
    ['ip', 'netns', 'exec', netnsName(context.record.name, context.host.name), 'tc', 'qdisc'],
  ];
}

function qdiscDevice(context: HostContext, position: number): string {
  return position === 0 ? vethName(context.record.index, context.host.number) : 'eth0';
}

async function applyQdisc(context: HostContext, qdisc: string[], action: string): Promise<void> {
  const targets = qdiscTargets(context);
  for (let position = 0; position < targets.length; position++) {
    const argv = [...targets[position]!, 'replace', 'dev', qdiscDevice(context, position), 'root', ...qdisc];
    const result = await run(argv, { timeoutMs: TC_TIMEOUT_MS });
    if (result.exitCode === 0) continue;
    await clearShaping(context);
    if (/qdisc kind is unknown/i.test(result.stderr)) {
      throw new FaultNotSupportedError(
        `${action}: this kernel has no ${qdisc[0]} qdisc (${result.stderr.trim()}); use a kernel with it, or throttleLink (tbf) to slow the link`,
      );
    }
    throw new CommandFailedError(argv, result);
  }
}

async function clearShaping(context: HostContext): Promise<void> {
  const targets = qdiscTargets(context);
  for (let position = 0; position < targets.length; position++) {
    // Deleting the root qdisc when only the default one is there fails harmlessly.
    await run([...targets[position]!, 'del', 'dev', qdiscDevice(context, position), 'root'], { timeoutMs: TC_TIMEOUT_MS });
  }
}

/** Stops the host's sshd.service through the systemd stand-in: new connections are refused, open sessions go on. */
export async function stopSshd(fleet: string, host: string, options: FaultOptions = {}): Promise<void> {
  const context = hostContext(fleet, host, options);
  await hostExecChecked(fleet, host, ['systemctl', 'stop', 'sshd.service'], { timeoutMs: HOST_COMMAND_TIMEOUT_MS, root: context.root });
}

/** Starts the host's sshd.service through the systemd stand-in. */
export async function startSshd(fleet: string, host: string, options: FaultOptions = {}): Promise<void> {
  const context = hostContext(fleet, host, options);
  await hostExecChecked(fleet, host, ['systemctl', 'start', 'sshd.service'], { timeoutMs: HOST_COMMAND_TIMEOUT_MS, root: context.root });
}

/**
 * Fills the host's disk from `dir` (a directory on the host's disk: under /etc, /usr, /var, /root,
 * /home, /opt or /tmp) until writes fail with ENOSPC. Returns the bytes written. The disk is the host's
 * own size-limited tmpfs, never the machine's disk.
 */
export async function fillDisk(fleet: string, host: string, dir: string, options: FaultOptions = {}): Promise<number> {
  const context = hostContext(fleet, host, options);
  const fillFile = fillFilePath(host, dir);
  const execOptions = { timeoutMs: HOST_COMMAND_TIMEOUT_MS, root: context.root };

  await hostExecChecked(fleet, host, ['mkdir', '-p', dir], execOptions);
  const mount = await hostExecChecked(fleet, host, ['findmnt', '--noheadings', '--output', 'TARGET,FSTYPE', '--target', dir], execOptions);
  const [target, fstype] = mount.stdout.trim().split(/\s+/);
  if (fstype !== 'overlay' || !['/etc', '/usr', '/var', '/root', '/home', '/opt', '/tmp'].includes(target ?? '')) {
    throw new FaultNotSupportedError(
      `fill disk on ${host}: ${dir} is on ${target} (${fstype}), not on the host's disk; choose a directory under /var, /etc, /usr, /root, /home, /opt or /tmp`,
    );
  }

  // dd stops with "No space left on device" and exit code 1 when the disk is full: the expected end.
  const fill = await hostExec(fleet, host, ['dd', 'if=/dev/zero', `of=${fillFile}`, 'bs=1M', 'conv=fsync'], {
    timeoutMs: 120_000,
    root: context.root,
  });
  if (!/No space left on device/.test(fill.stderr)) {
    throw new Error(`fill disk on ${host}: dd into ${fillFile} did not end with ENOSPC: ${describeFailure(fill)}`);
  }
  const size = await hostExecChecked(fleet, host, ['stat', '--format', '%s', fillFile], execOptions);
  return Number.parseInt(size.stdout.trim(), 10);
}

/** Removes the file fillDisk wrote into `dir`; does nothing when there is none. */
export async function freeDisk(fleet: string, host: string, dir: string, options: FaultOptions = {}): Promise<void> {
  const context = hostContext(fleet, host, options);
  await hostExecChecked(fleet, host, ['rm', '-f', fillFilePath(host, dir)], { timeoutMs: HOST_COMMAND_TIMEOUT_MS, root: context.root });
}

function fillFilePath(host: string, dir: string): string {
  if (!path.isAbsolute(dir)) throw new RangeError(`fill disk on ${host}: ${dir} is not an absolute path`);
  return path.join(path.resolve(dir), FILL_FILE_NAME);
}

export interface ChangeHostKeyOptions extends FaultOptions {
  /** Also write the new keys into the fleet's known_hosts (a planned key rotation); default false. */
  updateKnownHosts?: boolean;
}

/**
 * Gives the host new SSH host keys and restarts its sshd, so clients that pinned the old key see a
 * mismatch. Returns the new public keys as known_hosts lines.
 */
export async function changeHostKey(fleet: string, host: string, options: ChangeHostKeyOptions = {}): Promise<string[]> {
  const context = hostContext(fleet, host, options);
  const execOptions = { timeoutMs: HOST_COMMAND_TIMEOUT_MS, root: context.root };
  const keyTypes: Array<[type: string, extra: string[]]> = [
    ['ed25519', []],
    ['ecdsa', ['-b', '256']],
  ];
  for (const [type, extra] of keyTypes) {
    const keyFile = `/etc/ssh/ssh_host_${type}_key`;
    await hostExecChecked(fleet, host, ['rm', '-f', keyFile, `${keyFile}.pub`], execOptions);
    await hostExecChecked(fleet, host, ['ssh-keygen', '-q', '-t', type, ...extra, '-N', '', '-C', `root@${host}`, '-f', keyFile], execOptions);
  }
  await hostExecChecked(fleet, host, ['systemctl', 'restart', 'sshd.service'], execOptions);

  const lines: string[] = [];
  for (const [type] of keyTypes) {
    const publicKey = await hostExecChecked(fleet, host, ['cat', `/etc/ssh/ssh_host_${type}_key.pub`], execOptions);
    const [keyType, key] = publicKey.stdout.trim().split(/\s+/);
    lines.push(`${context.host.address} ${keyType} ${key}`);
  }
  if (options.updateKnownHosts) replaceKnownHostsEntries(context, lines);
  return lines;
}

function replaceKnownHostsEntries(context: HostContext, lines: string[]): void {
  const file = path.join(fleetDir(context.root, context.record.name), 'known_hosts');
  const otherHostLines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && line.split(' ')[0] !== context.host.address);
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, [...otherHostLines, ...lines].join('\n') + '\n');
  fs.renameSync(temporary, file);
}
