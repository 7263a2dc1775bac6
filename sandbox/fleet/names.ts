/**
 * Names, addresses and paths of sandbox fleets and hosts.
 *
 * A fleet with index idx owns the bridge `kbbr<idx>` with 198.18.<idx>.1/24; host n (1-based) lives in
 * the network namespace `kb-<fleet>-<host>`, reached through the veth `kbv<idx>h<n>`, at
 * 198.18.<idx>.<10+n>. Every name a fleet creates is derived here, so `down` can find all of it again.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export const MIN_FLEET_INDEX = 1;
export const MAX_FLEET_INDEX = 200;
/** Host n sits at .<10+n>, so one /24 holds 240 hosts (.11 to .250). */
export const MAX_HOSTS = 240;
export const DEFAULT_SANDBOX_ROOT = '/srv/kboot-sandbox';

const FLEET_NAME = /^[a-z][a-z0-9]{0,15}$/;
const HOST_NAME = /^[a-z][a-z0-9]{0,31}$/;

/**
 * Directories that must never hold sandbox state: each host mounts an overlay on them, and an overlay
 * upper dir inside its own lower dir does not work.
 */
const OVERLAID_DIRS = ['/etc', '/usr', '/var', '/root', '/home', '/opt', '/tmp', '/run'];

/** Thrown when a fleet name, host name, index or root path cannot be used. */
export class InvalidFleetArgumentError extends Error {
  override name = 'InvalidFleetArgumentError';
}

/** Throws unless `name` is a fleet name: a lowercase letter, then up to 15 lowercase letters or digits. */
export function validateFleetName(name: string): void {
  if (!FLEET_NAME.test(name)) {
    throw new InvalidFleetArgumentError(
      `invalid fleet name ${JSON.stringify(name)}: use a lowercase letter followed by up to 15 lowercase letters or digits (no dashes, they separate fleet and host in namespace names)`,
    );
  }
}

/** Throws unless `name` is a host name: a lowercase letter, then up to 31 lowercase letters or digits. */
export function validateHostName(name: string): void {
  if (!HOST_NAME.test(name)) {
    throw new InvalidFleetArgumentError(
      `invalid host name ${JSON.stringify(name)}: use a lowercase letter followed by up to 31 lowercase letters or digits`,
    );
  }
}

export function validateFleetIndex(index: number): void {
  if (!Number.isInteger(index) || index < MIN_FLEET_INDEX || index > MAX_FLEET_INDEX) {
    throw new InvalidFleetArgumentError(
      `invalid fleet index ${index}: use an integer from ${MIN_FLEET_INDEX} to ${MAX_FLEET_INDEX}`,
    );
  }
}

export function validateHostCount(hosts: number): void {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
    throw new InvalidFleetArgumentError(`invalid host count ${hosts}: use an integer from 1 to ${MAX_HOSTS}`);
  }
}

/**
 * Returns the sandbox root: `root` if given, else $KBOOT_SANDBOX_ROOT, else /srv/kboot-sandbox.
 * Throws when the root is relative or lies under a directory that hosts overlay.
 */
export function resolveSandboxRoot(root?: string): string {
  const chosen = root ?? process.env.KBOOT_SANDBOX_ROOT ?? DEFAULT_SANDBOX_ROOT;
  if (!path.isAbsolute(chosen)) {
    throw new InvalidFleetArgumentError(`invalid sandbox root ${JSON.stringify(chosen)}: use an absolute path`);
  }
  const normalized = path.resolve(chosen);
  for (const dir of OVERLAID_DIRS) {
    if (normalized === dir || normalized.startsWith(dir + '/')) {
      throw new InvalidFleetArgumentError(
        `invalid sandbox root ${normalized}: it lies under ${dir}, which every host overlays; use a path such as ${DEFAULT_SANDBOX_ROOT}`,
      );
    }
  }
  if (normalized === '/') {
    throw new InvalidFleetArgumentError('invalid sandbox root /: use a dedicated directory such as ' + DEFAULT_SANDBOX_ROOT);
  }
  return normalized;
}

/** Returns the directory of the stand-in binaries: ${KBOOT_CACHE:-$HOME/.cache/kboot}/sandbox-bin. */
export function standinBinDir(): string {
  const cache = process.env.KBOOT_CACHE ?? path.join(process.env.HOME ?? os.homedir(), '.cache', 'kboot');
  return path.join(cache, 'sandbox-bin');
}

export function fleetDir(root: string, fleet: string): string {
  return path.join(root, fleet);
}

export function hostDir(root: string, fleet: string, host: string): string {
  return path.join(root, fleet, 'hosts', host);
}

export function netnsName(fleet: string, host: string): string {
  return `kb-${fleet}-${host}`;
}

export function bridgeName(index: number): string {
  return `kbbr${index}`;
}

/** Root-namespace end of host n's veth pair; the other end is `eth0` inside the host. */
export function vethName(index: number, hostNumber: number): string {
  return `kbv${index}h${hostNumber}`;
}

export function bridgeAddress(index: number): string {
  return `198.18.${index}.1`;
}

export function hostAddress(index: number, hostNumber: number): string {
  if (!Number.isInteger(hostNumber) || hostNumber < 1 || hostNumber > MAX_HOSTS) {
    throw new InvalidFleetArgumentError(`invalid host number ${hostNumber}: use an integer from 1 to ${MAX_HOSTS}`);
  }
  return `198.18.${index}.${10 + hostNumber}`;
}

export const PREFIX_LENGTH = 24;
