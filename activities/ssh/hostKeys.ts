import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

// ssh2 is CommonJS: Node's ES module loader exposes only its default export.
import ssh2 from 'ssh2';

import type { ConnectionTarget } from './endpoint.js';
import { HostKeyMismatchError, HostKeyUnknownError, SshConnectError } from './errors.js';

/** A host key that the operator trusts for one host. */
export interface TrustedKey {
  fingerprint: string;
  /** Key type such as `ssh-ed25519`; absent for a pinned fingerprint. */
  keyType?: string;
  /** Origin of the trust, for messages: `known_hosts line 12` or `pinned fingerprint`. */
  source: string;
}

/** Everything trusted for one host, loaded before the connection starts. */
export interface HostTrust {
  keys: TrustedKey[];
  /** The name looked up in known_hosts: the address, or `[address]:port` off port 22. */
  knownHostsName: string;
  knownHostsFile?: string;
  /** Reason known_hosts gave nothing, when it could not be read. */
  knownHostsProblem?: string;
}

/** Formats a raw SSH public key blob the way `ssh-keygen -l` does: `SHA256:` and unpadded base64. */
export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** Returns the name OpenSSH looks up in known_hosts for this address and port. */
export function knownHostsNameFor(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/**
 * Reads known_hosts and the pinned fingerprints for a host. A missing or unreadable known_hosts
 * file leaves only the pins; if that leaves nothing, verification reports the host as unknown.
 */
export async function loadHostTrust(target: ConnectionTarget): Promise<HostTrust> {
  const knownHostsName = knownHostsNameFor(target.address, target.port);
  const trust: HostTrust = { keys: [], knownHostsName, knownHostsFile: target.knownHostsFile };

  for (const pinned of target.fingerprints ?? []) {
    trust.keys.push({ fingerprint: normalizePinnedFingerprint(target, pinned), source: 'pinned fingerprint' });
  }

  if (target.knownHostsFile !== undefined) {
    let text: string | undefined;
    try {
      text = await readFile(target.knownHostsFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      trust.knownHostsProblem = `cannot read ${target.knownHostsFile} (${code})`;
    }
    if (text !== undefined) {
      trust.keys.push(...findKnownHostKeys(text, knownHostsName));
    }
  }
  return trust;
}

/**
 * Returns the keys that a known_hosts text lists for `name`. Supports comma-separated patterns,
 * `*` and `?` wildcards, `!` negation and hashed `|1|salt|hash` names. Marker lines
 * (`@cert-authority`, `@revoked`) are skipped because host certificates are not supported.
 */
export function findKnownHostKeys(text: string, name: string): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const lines = text.split('\n');

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === '' || line.startsWith('#') || line.startsWith('@')) {
      continue;
    }
    const [patterns, keyType, keyBase64] = line.split(/\s+/);
    if (keyBase64 === undefined || !hostPatternsMatch(patterns, name)) {
      continue;
    }

    const parsed = ssh2.utils.parseKey(`${keyType} ${keyBase64}`);
    if (parsed instanceof Error) {
      // OpenSSH also skips lines it cannot parse rather than failing the lookup.
      continue;
    }
    keys.push({
      fingerprint: fingerprintOf(parsed.getPublicSSH()),
      keyType: parsed.type,
      source: `known_hosts line ${index + 1}`,
    });
  }
  return keys;
}

/** Applies OpenSSH's rules: any negated match rejects the line, else any positive match accepts it. */
function hostPatternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    return hashedNameMatches(patterns, name);
  }

  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (!globMatches(body.toLowerCase(), name.toLowerCase())) {
      continue;
    }
    if (negated) {
      return false;
    }
    matched = true;
  }
  return matched;
}

/** Checks a hashed name: `|1|` base64(salt) `|` base64(HMAC-SHA1 keyed by the salt over the name). */
function hashedNameMatches(field: string, name: string): boolean {
  const [, , saltBase64, hashBase64] = field.split('|');
  if (saltBase64 === undefined || hashBase64 === undefined) {
    return false;
  }
  const salt = Buffer.from(saltBase64, 'base64');
  const digest = createHmac('sha1', salt).update(name).digest('base64');
  return digest === hashBase64;
}

function globMatches(pattern: string, value: string): boolean {
  let source = '';
  for (const character of pattern) {
    if (character === '*') {
      source += '.*';
    } else if (character === '?') {
      source += '.';
    } else {
      source += character.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`).test(value);
}

function normalizePinnedFingerprint(target: ConnectionTarget, pinned: string): string {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(pinned.trim());
  if (match === null) {
    throw new SshConnectError(
      target,
      'config',
      `invalid pinned fingerprint ${JSON.stringify(pinned)}: expected SHA256: followed by 43 ` +
        `base64 characters, as printed by ssh-keygen -lf`,
    );
  }
  return `SHA256:${match[1]}`;
}

/** Outcome of comparing a presented host key with the trusted ones. */
export type HostKeyVerdict =
  | { kind: 'trusted' }
  | { kind: 'unknown'; presented: string }
  | { kind: 'mismatch'; presented: string; expected: string[] };

export function judgeHostKey(trust: HostTrust, presentedBlob: Buffer): HostKeyVerdict {
  const presented = fingerprintOf(presentedBlob);
  if (trust.keys.some((key) => key.fingerprint === presented)) {
    return { kind: 'trusted' };
  }
  if (trust.keys.length === 0) {
    return { kind: 'unknown', presented };
  }
  const expected = [...new Set(trust.keys.map((key) => key.fingerprint))];
  return { kind: 'mismatch', presented, expected };
}

/** Builds the error for a verdict other than `trusted`. */
export function hostKeyError(
  target: ConnectionTarget,
  trust: HostTrust,
  verdict: Exclude<HostKeyVerdict, { kind: 'trusted' }>,
): HostKeyUnknownError | HostKeyMismatchError {
  if (verdict.kind === 'unknown') {
    return new HostKeyUnknownError(target, verdict.presented, describeLookup(trust));
  }
  return new HostKeyMismatchError(target, verdict.expected, verdict.presented, repinAdvice(trust, target.host));
}

function describeLookup(trust: HostTrust): string {
  if (trust.knownHostsFile === undefined) {
    return 'no knownHostsFile and no pinned fingerprints are configured';
  }
  if (trust.knownHostsProblem !== undefined) {
    return `${trust.knownHostsProblem} and no fingerprints are pinned`;
  }
  return `no entry for ${trust.knownHostsName} in ${trust.knownHostsFile}`;
}

function repinAdvice(trust: HostTrust, host: string): string {
  const fromKnownHosts = trust.keys.some((key) => key.source.startsWith('known_hosts'));
  const pinned = trust.keys.some((key) => key.source === 'pinned fingerprint');
  if (fromKnownHosts && !pinned) {
    return (
      `check the new fingerprint on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
      `then run kboot trust <spec> --replace ${host}, which replaces the old key in ${trust.knownHostsFile} ` +
      `(by hand: ssh-keygen -R '${trust.knownHostsName}' -f ${trust.knownHostsFile}, then kboot trust <spec>)`
    );
  }
  const steps: string[] = [];
  if (fromKnownHosts) {
    steps.push(`remove the old key with ssh-keygen -R '${trust.knownHostsName}' -f ${trust.knownHostsFile}`);
  }
  if (pinned) {
    steps.push('remove the old fingerprint from the spec');
  }
  return `${steps.join(' and ')}, then run kboot trust <spec>`;
}

/** SSH host key algorithms that can carry each key type, best first. */
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * Orders host key algorithms so the host presents a key type that known_hosts contains, as OpenSSH
 * does. Without this, a host with both an RSA and an Ed25519 key, of which only the RSA one is
 * pinned, would present its Ed25519 key and fail as a mismatch.
 * Returns undefined when no key types are known, to keep ssh2's default order.
 */
export function preferredHostKeyAlgorithms(trust: HostTrust): string[] | undefined {
  const known = trust.keys.flatMap((key) => (key.keyType === undefined ? [] : HOST_KEY_ALGORITHMS[key.keyType] ?? []));
  if (known.length === 0) {
    return undefined;
  }
  const all = Object.values(HOST_KEY_ALGORITHMS).flat();
  return [...new Set([...known, ...all])];
}
