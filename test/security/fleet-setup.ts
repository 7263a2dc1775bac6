/**
 * Sandbox host set-ups that the security tests need: sudo that wants a password, requiretty, a
 * passphrase-protected login key. Each change goes through hostExec, so it never depends on the
 * SSH path under test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

import { parse, stringify } from 'yaml';

import { hostExec, type UpResult } from '../../sandbox/fleet/index';

const HOST_COMMAND_TIMEOUT_MS = 30_000;

/** Runs a bash script as root on a sandbox host and returns its stdout; throws on a non-zero exit. */
export async function onHost(fleet: string, host: string, script: string, input?: string): Promise<string> {
  const result = await hostExec(fleet, host, ['bash', '-c', script], { timeoutMs: HOST_COMMAND_TIMEOUT_MS, input });
  if (result.exitCode !== 0) {
    throw new Error(`${fleet}/${host}: ${script.split('\n')[0]}: exit ${result.exitCode}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Replaces the fleet user's sudoers entry with `lines` (the fleet grants NOPASSWD: ALL). */
export async function setSudoers(fleet: string, host: string, lines: string[]): Promise<void> {
  await onHost(fleet, host, 'cat > /etc/sudoers.d/kboot && chmod 0440 /etc/sudoers.d/kboot && visudo -cq', `${lines.join('\n')}\n`);
}

/** Gives the fleet user `kboot` a login password, which sudo then prompts for. */
export async function setUserPassword(fleet: string, host: string, password: string): Promise<void> {
  await onHost(fleet, host, 'chpasswd', `kboot:${password}\n`);
}

/** Authorizes `publicKeyFile` as the only login key of user `kboot` on the host. */
export async function authorizeOnlyKey(fleet: string, host: string, publicKeyFile: string): Promise<void> {
  await onHost(fleet, host, 'cat > /etc/ssh/authorized_keys/kboot', readFileSync(publicKeyFile, 'utf8'));
}

/** Writes an Ed25519 key pair at `file` and `file.pub`, encrypted with `passphrase`. */
export function generateEncryptedKey(file: string, passphrase: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'kboot-security-test', '-f', file], { stdio: 'ignore' });
}

/** Returns the address of a host of an up fleet. */
export function addressOf(fleet: UpResult, host: string): string {
  const entry = fleet.hosts.find((candidate) => candidate.name === host);
  if (entry === undefined) throw new Error(`host ${host} is not in fleet ${fleet.name}`);
  return entry.address;
}

/** A cluster spec as plain data, for tests that change fields before writing it out. */
export type SpecData = Record<string, any>;

/**
 * Writes the fleet's cluster spec, changed by `edit`, to `file` and returns `file`. The fleet's own
 * cluster.yaml stays as `up` wrote it.
 */
export function writeSpec(fleet: UpResult, file: string, edit: (spec: SpecData) => void): string {
  const spec = parse(readFileSync(fleet.specFile, 'utf8')) as SpecData;
  edit(spec);
  writeFileSync(file, stringify(spec));
  return file;
}
