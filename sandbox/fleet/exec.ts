/**
 * Runs commands inside a sandbox host, entering all of its namespaces with nsenter: the way to reach a
 * host that does not depend on its network or its sshd.
 */
import { runningInitPid } from './boot.js';
import { readFleetRecord } from './layout.js';
import { resolveSandboxRoot, validateFleetName, validateHostName } from './names.js';
import { CommandFailedError, RunResult, SYSTEM_PATH, run } from './run.js';

export interface HostExecOptions {
  /** Written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command after this many milliseconds; the result then has timedOut set. */
  timeoutMs: number;
  /** Extra environment variables; the base is root's login environment on the host. */
  env?: Record<string, string>;
  /** Sandbox root; defaults to $KBOOT_SANDBOX_ROOT or /srv/kboot-sandbox. */
  root?: string;
}

/** Thrown when a fleet or one of its hosts does not exist or is not running. */
export class HostNotRunningError extends Error {
  override name = 'HostNotRunningError';
}

/** Returns the root-namespace pid of the host's PID 1; throws HostNotRunningError when it is not running. */
export function requireInitPid(root: string, fleet: string, host: string): number {
  validateFleetName(fleet);
  validateHostName(host);
  const record = readFleetRecord(root, fleet);
  if (record === undefined) {
    throw new HostNotRunningError(`fleet ${fleet} not found under ${root}: run up first`);
  }
  if (!record.hosts.some((entry) => entry.name === host)) {
    const names = record.hosts.map((entry) => entry.name).join(', ');
    throw new HostNotRunningError(`host ${host} not found in fleet ${fleet} (hosts: ${names})`);
  }
  const pid = runningInitPid(root, fleet, host);
  if (pid === undefined) {
    throw new HostNotRunningError(`host ${host} of fleet ${fleet} is not running: run down, then up`);
  }
  return pid;
}

/**
 * Runs `argv` (no shell) inside the host as root, in all of the host's namespaces, and returns its exit
 * status and output. Rejects only when the host is not running or the command cannot be started.
 */
export async function hostExec(
  fleet: string,
  host: string,
  argv: string[],
  options: HostExecOptions,
): Promise<RunResult> {
  const root = resolveSandboxRoot(options.root);
  const pid = requireInitPid(root, fleet, host);
  if (argv.length === 0) throw new Error(`exec on ${host}: empty command`);
  return run(['nsenter', '-t', String(pid), '-a', '--', ...argv], {
    timeoutMs: options.timeoutMs,
    input: options.input,
    env: { PATH: SYSTEM_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', ...options.env },
  });
}

/** Runs hostExec and throws CommandFailedError (naming the host) unless the command exits with 0. */
export async function hostExecChecked(
  fleet: string,
  host: string,
  argv: string[],
  options: HostExecOptions,
): Promise<RunResult> {
  const result = await hostExec(fleet, host, argv, options);
  if (result.exitCode !== 0 || result.timedOut) throw new CommandFailedError([`${host}:`, ...argv], result);
  return result;
}
