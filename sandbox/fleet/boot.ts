/**
 * Host boot: starts a host's PID 1 (host-boot.sh, which execs the systemd stand-in) in fresh PID, mount and UTS
 * namespaces inside the host's network namespace, and finds that PID 1 from the root namespace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { fleetDir, hostDir, netnsName } from './names.js';
import { defaultEnv, pollUntil } from './run.js';

export const BOOT_SCRIPT_NAME = 'host-boot.sh';

export interface BootHostInput {
  root: string;
  fleet: string;
  host: string;
  address: string;
  diskMiB: number;
  fleetPublicKey: string;
  standinBinDir: string;
  /** Give up when the host has not published its host keys after this many milliseconds. */
  timeoutMs: number;
}

/** Thrown when a host's PID 1 dies during boot or does not finish booting in time. */
export class HostBootError extends Error {
  override name = 'HostBootError';
}

/** Quotes a value for a POSIX shell: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function initPidPath(root: string, fleet: string, host: string): string {
  return path.join(hostDir(root, fleet, host), 'init.pid');
}

/** Copies the boot script into the fleet directory, so running hosts never depend on the work tree. */
export function installBootScript(root: string, fleet: string, sourceFile: string): string {
  const target = path.join(fleetDir(root, fleet), BOOT_SCRIPT_NAME);
  fs.copyFileSync(sourceFile, target);
  fs.chmodSync(target, 0o755);
  return target;
}

/**
 * Boots one host and returns the root-namespace pid of its PID 1 once the host has published its SSH
 * host keys (sshd may still be starting). The host's network namespace must be wired already.
 */
export async function bootHost(input: BootHostInput): Promise<number> {
  const dir = hostDir(input.root, input.fleet, input.host);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });

  const env: Record<string, string> = {
    HOST_NAME: input.host,
    HOST_ADDRESS: input.address,
    SANDBOX_ROOT: input.root,
    DISK_MIB: String(input.diskMiB),
    FLEET_PUBLIC_KEY: input.fleetPublicKey.trim(),
    STANDIN_BIN_DIR: input.standinBinDir,
  };
  const envText = Object.entries(env)
    .map(([key, value]) => `${key}=${shellQuote(value)}\n`)
    .join('');
  fs.writeFileSync(path.join(dir, 'boot.env'), envText);

  const logFile = path.join(dir, 'boot.log');
  const log = fs.openSync(logFile, 'a');
  const bootScript = path.join(fleetDir(input.root, input.fleet), BOOT_SCRIPT_NAME);
  let launcherPid: number | undefined;
  try {
    // `ip netns exec` execs unshare, so the spawned pid is unshare's; with --fork, unshare's only child
    // is PID 1 of the new PID namespace.
    const child = spawn(
      'ip',
      [
        'netns', 'exec', netnsName(input.fleet, input.host),
        'unshare', '--pid', '--fork', '--mount', '--uts', '--propagation', 'private', '--mount-proc',
        '/bin/bash', bootScript, dir,
      ],
      {
        env: { ...defaultEnv(), HOME: '/root', TERM: 'dumb' },
        stdio: ['ignore', log, log],
        detached: true,
      },
    );
    child.on('error', () => undefined);
    child.unref();
    launcherPid = child.pid;
  } finally {
    fs.closeSync(log);
  }
  if (launcherPid === undefined) {
    throw new HostBootError(`boot ${input.host}: could not start ip netns exec; see ${logFile}`);
  }

  const initPid = await pollUntil(() => firstChildPid(launcherPid), { timeoutMs: 10_000, intervalMs: 20 });
  if (initPid === undefined) {
    throw new HostBootError(`boot ${input.host}: PID 1 of the host did not appear within 10 s; see ${logFile}`);
  }
  fs.writeFileSync(initPidPath(input.root, input.fleet, input.host), `${initPid}\n`);

  const ready = path.join(dir, 'hostkeys', 'ready');
  const outcome = await pollUntil<'ready' | 'died'>(
    () => (fs.existsSync(ready) ? 'ready' : processAlive(initPid) ? undefined : 'died'),
    { timeoutMs: input.timeoutMs, intervalMs: 50 },
  );
  if (outcome !== 'ready') {
    const reason = outcome === 'died' ? 'PID 1 of the host exited during boot' : `boot did not finish within ${input.timeoutMs} ms`;
    throw new HostBootError(`boot ${input.host}: ${reason}: ${tail(logFile)}; see ${logFile}`);
  }
  return initPid;
}

function firstChildPid(pid: number): number | undefined {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    const first = Number.parseInt(children.split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has exited and only waits for its parent to reap it.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Returns the root-namespace pid of the host's PID 1 from init.pid, or undefined when the host is not
 * running. The pid counts only while it is still PID 1 of a PID namespace inside the host's network
 * namespace, so a pid reused by an unrelated process after a crash is never taken for the host.
 */
export function runningInitPid(root: string, fleet: string, host: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(initPidPath(root, fleet, host), 'utf8'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  try {
    const hostNetns = fs.statSync(`/run/netns/${netnsName(fleet, host)}`);
    const processNetns = fs.statSync(`/proc/${pid}/ns/net`);
    if (hostNetns.ino !== processNetns.ino || hostNetns.dev !== processNetns.dev) return undefined;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    if (nspid === undefined || nspid[nspid.length - 1] !== '1') return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no boot log)';
  }
}
