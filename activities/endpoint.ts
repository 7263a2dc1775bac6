/** Builds the SSH endpoint for a host from the spec's SSH settings. */
import type { ClusterSpec } from '../plan/index.js';
import type { SshEndpoint } from './ssh/index.js';

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`invalid duration ${JSON.stringify(text)}: expected a number and ms, s, m or h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

export function sshEndpoint(ssh: ClusterSpec['ssh'], host: string, address: string): SshEndpoint {
  return {
    host,
    address,
    port: ssh.port,
    user: ssh.user,
    privateKeyFile: ssh.privateKeyFile,
    knownHostsFile: ssh.knownHostsFile,
    sudo: ssh.sudo,
    connectTimeoutMs: parseDuration(ssh.connectTimeout),
  };
}
