/**
 * Builds the SSH endpoint for a host from the spec's SSH settings and the host's own. The result
 * contains names, paths, fingerprints and environment variable names only: the worker reads the
 * key and any password on its own machine.
 */
import type { ClusterSpec } from '../plan/index.js';
import type { HostSshSpec } from '../plan/spec.js';
import type { ConnectionTarget, SshEndpoint } from './ssh/index.js';

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`invalid duration ${JSON.stringify(text)}: expected a number and ms, s, m or h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

/** Returns the bastion's connection settings, with the `ssh` section's user and key where it sets none. */
export function jumpTarget(ssh: ClusterSpec['ssh']): ConnectionTarget | undefined {
  const { jump } = ssh;
  if (jump === undefined) return undefined;
  const sameKey = jump.privateKeyFile === undefined || jump.privateKeyFile === ssh.privateKeyFile;
  return {
    host: jump.name ?? 'bastion',
    address: jump.address,
    port: jump.port ?? 22,
    user: jump.user ?? ssh.user,
    privateKeyFile: jump.privateKeyFile ?? ssh.privateKeyFile,
    passphraseEnv: jump.passphraseEnv ?? (sameKey ? ssh.passphraseEnv : undefined),
    knownHostsFile: ssh.knownHostsFile,
    fingerprints: jump.fingerprints,
    connectTimeoutMs: parseDuration(ssh.connectTimeout),
  };
}

/**
 * Returns the endpoint of one host. `hostSsh` is the host's own `ssh` settings, which win over the
 * section's. A `tty` left undefined means "when sudo requires one": runRemote then retries with a
 * pseudo-terminal after SudoTtyRequiredError.
 */
export function sshEndpoint(ssh: ClusterSpec['ssh'], host: string, address: string, hostSsh: HostSshSpec = {}): SshEndpoint {
  const sudo = hostSsh.sudo ?? ssh.sudo;
  return {
    host,
    address,
    port: hostSsh.port ?? ssh.port,
    user: hostSsh.user ?? ssh.user,
    privateKeyFile: ssh.privateKeyFile,
    passphraseEnv: ssh.passphraseEnv,
    knownHostsFile: ssh.knownHostsFile,
    fingerprints: hostSsh.fingerprints,
    sudo,
    sudoPasswordEnv: sudo ? ssh.sudoPasswordEnv : undefined,
    tty: hostSsh.tty ?? ssh.tty,
    connectTimeoutMs: parseDuration(ssh.connectTimeout),
    jump: jumpTarget(ssh),
  };
}
