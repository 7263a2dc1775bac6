/**
 * `kboot trust FILE`: records the host keys of a spec's hosts (and its bastion) into the spec's
 * knownHostsFile on first contact. It prints every fingerprint it records or finds, replaces a
 * different key only for a host named with `--replace HOST`, and changes nothing for a host
 * whose fingerprints the spec pins. Like `ssh-keyscan`, it reads each host key with a handshake
 * per key type that stops before authentication, so no credential is sent to a host being trusted.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';

// ssh2 is CommonJS: Node's ES module loader exposes only its default export.
import ssh2 from 'ssh2';
import type { Client } from 'ssh2';

import { jumpTarget, sshEndpoint } from '../activities/endpoint.js';
import { openClient } from '../activities/ssh/connect.js';
import { describeTarget, type ConnectionTarget } from '../activities/ssh/endpoint.js';
import { findKnownHostKeys, fingerprintOf, knownHostsNameFor } from '../activities/ssh/hostKeys.js';
import { loadSpec, SpecError, type LoadedSpec } from './spec-file.js';

/** Host key algorithms asked for one at a time, so that every key type a host has is seen. */
const SCAN_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512'] as const;

/** Hosts scanned at once. */
const SCAN_CONCURRENCY = 8;

/** A host key as the host presented it. */
export interface ScannedKey {
  keyType: string;
  base64: string;
  fingerprint: string;
}

/** Outcome of `kboot trust` for one host. */
export type TrustVerdict = 'recorded' | 'trusted' | 'pinned' | 'replaced' | 'changed' | 'unreachable';

export interface HostTrustReport {
  host: string;
  verdict: TrustVerdict;
  /** One line for the operator, starting with the host. */
  line: string;
}

export interface TrustOptions {
  /** Hosts (by spec name, or the bastion's name) whose known_hosts entries may be replaced. */
  replace: string[];
  /** Receives each host's line as soon as it is known. */
  print: (line: string) => void;
}

/** Thrown when `--replace` names a host that the spec does not have. */
export class TrustUsageError extends Error {
  override name = 'TrustUsageError';
}

function describeKeys(keys: readonly { keyType?: string; fingerprint: string }[]): string {
  return keys.map((key) => `${key.keyType ?? 'key'} ${key.fingerprint}`).join(', ');
}

/**
 * Reads the host keys `target` offers, one handshake per key type, each stopped in the host key
 * check. `connect` returns a fresh socket to the host, or undefined to connect directly.
 */
export async function scanHostKeys(target: ConnectionTarget, connect?: () => Promise<Duplex>): Promise<ScannedKey[]> {
  const keys: ScannedKey[] = [];
  let reached = false;
  let lastError: Error | undefined;
  for (const algorithm of SCAN_ALGORITHMS) {
    const sock = connect === undefined ? undefined : await connect();
    const outcome = await handshakeFor(target, algorithm, sock);
    if ('key' in outcome) {
      reached = true;
      if (!keys.some((key) => key.base64 === outcome.key.base64)) keys.push(outcome.key);
    } else if (outcome.negotiated) {
      // The host responded but has no key of this type.
      reached = true;
    } else {
      lastError = outcome.error;
      // A host that cannot be reached fails every key type alike, each after the full timeout.
      if (!reached) break;
    }
  }
  if (!reached) throw new Error(`cannot reach the host: ${lastError?.message ?? 'no answer'}`);
  return keys;
}

type HandshakeOutcome = { key: ScannedKey } | { negotiated: boolean; error: Error };

function handshakeFor(target: ConnectionTarget, algorithm: string, sock: Duplex | undefined): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const client: Client = new ssh2.Client();
    let key: ScannedKey | undefined;
    let settled = false;
    const finish = (outcome: HandshakeOutcome): void => {
      if (settled) return;
      settled = true;
      client.end();
      sock?.destroy();
      resolve(outcome);
    };
    client.on('error', (error: Error & { level?: string }) => {
      if (key !== undefined) {
        finish({ key });
        return;
      }
      // A failed algorithm negotiation means the host responded but lacks this key type.
      finish({ negotiated: /handshake failed|no matching/i.test(error.message), error });
    });
    client.on('ready', () => finish(key !== undefined ? { key } : { negotiated: true, error: new Error('logged in without a host key check') }));
    client.on('close', () => finish(key !== undefined ? { key } : { negotiated: false, error: new Error('connection closed during the handshake') }));
    try {
      client.connect({
        host: target.address,
        port: target.port,
        sock,
        username: 'kboot-trust',
        readyTimeout: target.connectTimeoutMs,
        algorithms: { serverHostKey: [algorithm] as never },
        hostVerifier: (blob: Buffer): boolean => {
          const parsed = ssh2.utils.parseKey(blob);
          const keyType = parsed instanceof Error ? algorithm : parsed.type;
          key = { keyType, base64: blob.toString('base64'), fingerprint: fingerprintOf(blob) };
          // Returning false ends the handshake here, before any authentication.
          return false;
        },
      });
    } catch (error) {
      finish({ negotiated: false, error: error as Error });
    }
  });
}

/** Known_hosts text plus the lines to drop and to add, written out once at the end. */
class KnownHostsEdit {
  readonly original: string;
  private readonly dropped = new Set<number>();
  private readonly added: string[] = [];

  constructor(
    readonly file: string,
    private readonly specFile: string,
  ) {
    this.original = existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  /** Returns the current text, with this run's changes so far. */
  text(): string {
    const kept = this.original.split('\n').filter((_, index) => !this.dropped.has(index + 1));
    const body = kept.join('\n').replace(/\n*$/, '');
    return [body, ...this.added].filter((part) => part !== '').join('\n') + '\n';
  }

  drop(line: number): void {
    this.dropped.add(line);
  }

  add(line: string): void {
    this.added.push(line);
  }

  get changed(): boolean {
    return this.dropped.size > 0 || this.added.length > 0;
  }

  /** Returns the first field (host patterns) of a 1-based line of the original text. */
  patternsOn(line: number): string {
    return (this.original.split('\n')[line - 1] ?? '').trim().split(/\s+/)[0] ?? '';
  }

  /**
   * Writes the file atomically, keeping its mode, or 0644 for a new file. Throws SpecError naming
   * ssh.knownHostsFile when the file cannot be written.
   */
  save(): void {
    const mode = existsSync(this.file) ? statSync(this.file).mode & 0o777 : 0o644;
    const temporary = `${this.file}.kboot-trust.tmp`;
    try {
      writeFileSync(temporary, this.text(), { mode });
      renameSync(temporary, this.file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new SpecError(this.specFile, 'ssh.knownHostsFile', `cannot write ${this.file} (${code}); create its folder or make it writable`);
    }
  }
}

function lineNumberOf(source: string): number {
  return Number(/line (\d+)$/.exec(source)?.[1] ?? 0);
}

/** Compares what a host presents with what the spec and known_hosts trust, and records new keys. */
function judge(target: ConnectionTarget, scanned: ScannedKey[], edit: KnownHostsEdit, replace: boolean, specFile: string): HostTrustReport {
  const label = describeTarget(target);
  const host = target.host;
  const name = knownHostsNameFor(target.address, target.port);
  const presented = describeKeys(scanned);
  if (scanned.length === 0) return { host, verdict: 'unreachable', line: `${label}: the host offered no host key of a supported type` };

  const pins = target.fingerprints ?? [];
  if (pins.length > 0) {
    if (scanned.some((key) => pins.includes(key.fingerprint))) {
      return { host, verdict: 'pinned', line: `${label}: pinned in the spec and matching: ${presented}` };
    }
    return {
      host,
      verdict: 'changed',
      line:
        `${label}: host key mismatch: the spec pins ${pins.join(' or ')}, the host presents ${presented}; ` +
        `this is either a re-installed host or an attack; if the host was re-installed, check its fingerprint on its console ` +
        `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and put it in the spec's fingerprints for ${host}`,
    };
  }

  const known = findKnownHostKeys(edit.text(), name);
  const record = (): void => scanned.forEach((key) => edit.add(`${name} ${key.keyType} ${key.base64}`));
  if (known.length === 0) {
    record();
    return { host, verdict: 'recorded', line: `${label}: recorded ${presented} in ${edit.file}` };
  }

  const comparable = scanned.filter((key) => known.some((entry) => entry.keyType === key.keyType));
  const matches = comparable.length > 0 && comparable.every((key) => known.some((entry) => entry.keyType === key.keyType && entry.fingerprint === key.fingerprint));
  if (matches) return { host, verdict: 'trusted', line: `${label}: already trusted: ${describeKeys(comparable)}` };

  const old = known.map((entry) => `${entry.keyType ?? 'key'} ${entry.fingerprint} (${entry.source})`).join(', ');
  if (!replace) {
    return {
      host,
      verdict: 'changed',
      line:
        `${label}: host key changed: ${edit.file} has ${old}, the host presents ${presented}; nothing was written; this is either a re-installed host ` +
        `or an attack; if the host was re-installed, check the new fingerprint on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), ` +
        `then run kboot trust ${specFile} --replace ${host}`,
    };
  }
  // Own lines of the original file only: the original text's line numbers are what drop() takes.
  const ownLines = findKnownHostKeys(edit.original, name).map((entry) => lineNumberOf(entry.source));
  const shared = ownLines.find((line) => {
    const patterns = edit.patternsOn(line);
    return !patterns.startsWith('|1|') && patterns.toLowerCase() !== name.toLowerCase();
  });
  if (shared !== undefined) {
    return {
      host,
      verdict: 'changed',
      line: `${label}: host key changed, and known_hosts line ${shared} lists ${name} together with other names; edit ${edit.file} by hand: it has ${old}, the host presents ${presented}`,
    };
  }
  ownLines.forEach((line) => edit.drop(line));
  record();
  return { host, verdict: 'replaced', line: `${label}: replaced ${old} with ${presented} in ${edit.file}` };
}

async function mapWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Opens a direct-tcpip tunnel through an authenticated bastion connection. */
function tunnelThrough(bastion: Client, target: ConnectionTarget): () => Promise<Duplex> {
  return () =>
    new Promise((resolve, reject) => {
      bastion.forwardOut('127.0.0.1', 0, target.address, target.port, (error, stream) => (error ? reject(error) : resolve(stream)));
    });
}

/**
 * Scans the bastion (if the spec has one) and every host, records new keys and, for hosts named
 * in `replace`, replaces changed ones. Returns one report per host, bastion first; the file is
 * written once, after every host is judged.
 */
export async function trustHosts(loaded: LoadedSpec, options: TrustOptions): Promise<HostTrustReport[]> {
  const { spec, file } = loaded;
  const bastion = jumpTarget(spec.ssh);
  const known = new Set([...spec.hosts.map((host) => host.name), ...(bastion ? [bastion.host] : [])]);
  const unknown = options.replace.filter((host) => !known.has(host));
  if (unknown.length > 0) throw new TrustUsageError(`--replace names ${unknown.join(', ')}, which ${file} does not list; use a host name from the spec`);

  // Checked before any host is contacted, so that no line claims a key was recorded.
  if (!existsSync(dirname(spec.ssh.knownHostsFile))) {
    throw new SpecError(file, 'ssh.knownHostsFile', `cannot write ${spec.ssh.knownHostsFile}: its folder does not exist; create it first`);
  }
  const edit = new KnownHostsEdit(spec.ssh.knownHostsFile, file);
  const reports: HostTrustReport[] = [];
  const report = (entry: HostTrustReport): HostTrustReport => {
    reports.push(entry);
    options.print(entry.line);
    return entry;
  };

  let bastionClient: Client | undefined;
  if (bastion !== undefined) {
    let verdict: HostTrustReport;
    try {
      verdict = judge(bastion, await scanHostKeys(bastion), edit, options.replace.includes(bastion.host), file);
    } catch (error) {
      verdict = { host: bastion.host, verdict: 'unreachable', line: `${describeTarget(bastion)}: ${(error as Error).message}` };
    }
    report(verdict);
    if (verdict.verdict === 'recorded' || verdict.verdict === 'replaced') edit.save();
    if (verdict.verdict !== 'changed' && verdict.verdict !== 'unreachable') {
      try {
        // The hosts behind the bastion are reached through a real login, checked like any other.
        bastionClient = await openClient(bastion, { intervalMs: 15_000, countMax: 3 });
      } catch (error) {
        report({ host: bastion.host, verdict: 'unreachable', line: `${describeTarget(bastion)}: cannot log in to scan the hosts behind it: ${(error as Error).message}` });
      }
    }
  }

  try {
    await mapWithLimit(spec.hosts, SCAN_CONCURRENCY, async (host) => {
      const target = sshEndpoint(spec.ssh, host.name, host.address, host.ssh);
      if (bastion !== undefined && bastionClient === undefined) {
        return report({ host: host.name, verdict: 'unreachable', line: `${describeTarget(target)}: not scanned, because the bastion ${bastion.host} is not trusted or not reachable` });
      }
      try {
        const scanned = await scanHostKeys(target, bastionClient === undefined ? undefined : tunnelThrough(bastionClient, target));
        return report(judge(target, scanned, edit, options.replace.includes(host.name), file));
      } catch (error) {
        return report({ host: host.name, verdict: 'unreachable', line: `${describeTarget(target)}: ${(error as Error).message}` });
      }
    });
  } finally {
    bastionClient?.end();
  }

  if (edit.changed) edit.save();
  return reports;
}

/**
 * Runs `kboot trust FILE`: prints one line per host and a summary, and returns the exit code, 0
 * when every host is trusted and 1 when a host changed its key or could not be reached. Throws
 * SpecError for an invalid spec and TrustUsageError for an unknown `--replace` host.
 */
export async function runTrust(file: string, replace: string[], print: (line: string) => void): Promise<number> {
  const loaded = loadSpec(file, { knownHostsMayBeMissing: true });
  const reports = await trustHosts(loaded, { replace, print });
  const count = (verdict: TrustVerdict): number => reports.filter((entry) => entry.verdict === verdict).length;
  const summary = [
    `${count('recorded')} recorded`,
    `${count('replaced')} replaced`,
    `${count('trusted') + count('pinned')} already trusted`,
    `${count('changed')} changed and not trusted`,
    `${count('unreachable')} not reached`,
  ];
  print(`${loaded.spec.ssh.knownHostsFile}: ${summary.join(', ')}`);
  return count('changed') + count('unreachable') > 0 ? 1 : 0;
}
