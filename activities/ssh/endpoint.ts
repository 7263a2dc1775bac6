/**
 * Connection settings for one host, built by the worker from the cluster spec. It contains paths
 * and names only, so it may appear in activity inputs, but the key material it points to never does.
 */
export interface SshEndpoint {
  /** The host's name in the cluster spec, used in every message. */
  host: string;
  /** IP address or DNS name to connect to. */
  address: string;
  port: number;
  user: string;
  /** Path of the private key on the worker's machine. Never returned, logged or put in errors. */
  privateKeyFile: string;
  /** Name of the worker-side environment variable that contains the key's passphrase. */
  passphraseEnv?: string;
  /**
   * OpenSSH known_hosts file: plain and hashed (`|1|`) host names, `[address]:port` for ports
   * other than 22, wildcards and negation. Lines with a marker (`@cert-authority`, `@revoked`)
   * are skipped.
   */
  knownHostsFile?: string;
  /** Pinned host key fingerprints in OpenSSH form (`SHA256:` and unpadded base64). */
  fingerprints?: string[];
  /**
   * Runs the script as root through `sudo -n`, which fails at once instead of asking for a
   * password, or through `sudo -S` when `sudoPasswordEnv` is set.
   */
  sudo: boolean;
  /**
   * Name of the worker-side environment variable that contains the login user's sudo password.
   * The password goes to `sudo -S` on the channel's stdin, only after sudo prompts for it, and
   * never into the script, a command line or a result.
   */
  sudoPasswordEnv?: string;
  /**
   * Allocates a pseudo-terminal, for hosts whose sudoers sets `requiretty`. Standard error is then
   * merged into standard output by the terminal. Default false.
   */
  tty?: boolean;
  /** Limit for TCP connect, key exchange and authentication together, in milliseconds. */
  connectTimeoutMs: number;
  /** Bastion to connect through: the connection to this host is tunnelled with `direct-tcpip`. */
  jump?: ConnectionTarget;
}

/** The part of an endpoint that a connection depends on: a bastion has no sudo, tty or jump. */
export type ConnectionTarget = Omit<SshEndpoint, 'sudo' | 'sudoPasswordEnv' | 'jump' | 'tty'>;

/** Formats `node2 (198.18.1.13:22)`, the way every message names a host. */
export function describeTarget(target: ConnectionTarget): string {
  return `${target.host} (${target.address}:${target.port})`;
}

/**
 * Throws a TypeError naming the first invalid field. Endpoints come from a validated spec, so this
 * catches programming errors in the caller rather than operator input.
 */
export function validateEndpoint(endpoint: SshEndpoint): void {
  validateTarget(endpoint, 'endpoint');
  if (endpoint.jump !== undefined) {
    validateTarget(endpoint.jump, 'endpoint.jump');
  }
  if (endpoint.sudoPasswordEnv !== undefined && (typeof endpoint.sudoPasswordEnv !== 'string' || endpoint.sudoPasswordEnv === '')) {
    throw new TypeError(`invalid SSH endpoint for ${endpoint.host}: endpoint.sudoPasswordEnv must be a non-empty environment variable name`);
  }
}

function validateTarget(target: ConnectionTarget, path: string): void {
  const label = typeof target.host === 'string' ? target.host : '<unnamed host>';
  const fail = (field: string, expected: string): never => {
    throw new TypeError(`invalid SSH endpoint for ${label}: ${path}.${field} must be ${expected}`);
  };

  if (typeof target.host !== 'string' || target.host === '') fail('host', 'a non-empty string');
  if (typeof target.address !== 'string' || target.address === '') fail('address', 'a non-empty string');
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    fail('port', 'an integer from 1 to 65535');
  }
  if (typeof target.user !== 'string' || target.user === '') fail('user', 'a non-empty string');
  if (typeof target.privateKeyFile !== 'string' || target.privateKeyFile === '') {
    fail('privateKeyFile', 'a non-empty path');
  }
  if (!Number.isFinite(target.connectTimeoutMs) || target.connectTimeoutMs <= 0) {
    fail('connectTimeoutMs', 'a positive number of milliseconds');
  }
  if (target.fingerprints !== undefined && !Array.isArray(target.fingerprints)) {
    fail('fingerprints', 'an array of SHA256 fingerprints');
  }
}
