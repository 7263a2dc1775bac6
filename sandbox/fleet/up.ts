/**
 * Creation of a fleet: bridge, hosts (network namespace, boot, sshd), the fleet's SSH key pair and
 * known_hosts, and the cluster spec that points kboot at the fleet.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { bootHost, installBootScript, runningInitPid } from './boot.js';
import { removeFleet } from './down.js';
import {
  defaultLayout,
  listFleetRecords,
  readFleetRecord,
  sameLayout,
  writeFleetRecord,
  type FleetRecord,
  type HostLayout,
} from './layout.js';
import { withFleetLock } from './lock.js';
import { ensureBridge, linkExists, tcpPortOpen, wireHost } from './network.js';
import {
  MAX_FLEET_INDEX,
  MIN_FLEET_INDEX,
  bridgeName,
  fleetDir,
  hostDir,
  resolveSandboxRoot,
  standinBinDir,
  validateFleetIndex,
  validateFleetName,
  validateHostCount,
} from './names.js';
import { ensureHostPackages, ensureStandins, requireSystemdStandin, resolveRepoRoot } from './prereqs.js';
import { describeFailure, mapSettledWithLimit, pollUntil, run, runChecked } from './run.js';
import { renderClusterSpec } from './spec.js';

export interface UpOptions {
  /** Fleet name: a lowercase letter, then up to 15 lowercase letters or digits. */
  name: string;
  /** Number of hosts, 1 to 240. */
  hosts: number;
  /** Fleet index 1..200 (bridge kbbr<index>, addresses 198.18.<index>.0/24); default: 1 for the fleet "sandbox", else the lowest free index from 2. */
  index?: number;
  /** Sandbox root; default $KBOOT_SANDBOX_ROOT or /srv/kboot-sandbox. */
  root?: string;
  /** kboot repository (for the stand-in build, the boot script and sandbox/repo); default: the one holding the running script. */
  repoRoot?: string;
  /** Size of each host's disk in MiB (a tmpfs, so it takes memory only as it fills); default 1024. */
  diskMiB?: number;
  /** Hosts booted at once; default 8. */
  concurrency?: number;
  /** Time one host may take from boot to an SSH login with sudo, in milliseconds; default 60000. */
  hostTimeoutMs?: number;
  /** Skip the apt-get check and the stand-in build (tests that ran them once already). */
  skipPrerequisites?: boolean;
  /** Receives one line per step; default: no output. */
  log?: (line: string) => void;
}

export interface UpResult {
  name: string;
  index: number;
  root: string;
  /** False when the fleet already ran with the same layout and up changed nothing. */
  created: boolean;
  hosts: HostLayout[];
  specFile: string;
  privateKeyFile: string;
  knownHostsFile: string;
}

/** Thrown when a fleet cannot be created; the message names the host and step that failed. */
export class FleetUpError extends Error {
  override name = 'FleetUpError';
}

/** The demo fleet always takes index 1 (198.18.1.0/24), and other fleets never take it by default. */
export const DEMO_FLEET = 'sandbox';
export const DEMO_FLEET_INDEX = MIN_FLEET_INDEX;

const DEFAULT_DISK_MIB = 1024;
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_HOST_TIMEOUT_MS = 60_000;
const SSH_ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * Creates the fleet `name` with the default layout for `hosts` hosts, waits until every host accepts an
 * SSH login with the fleet key and passwordless sudo, and writes `<root>/<fleet>/cluster.yaml`.
 *
 * Running it again on a healthy fleet with the same layout changes nothing (`created: false`). A fleet
 * left half created, or with a host that stopped running, is removed and created again. A fleet with a
 * different layout is an error: run down first.
 */
export async function up(options: UpOptions): Promise<UpResult> {
  validateFleetName(options.name);
  validateHostCount(options.hosts);
  if (options.index !== undefined) validateFleetIndex(options.index);
  const root = resolveSandboxRoot(options.root);
  const log = options.log ?? (() => undefined);
  return withFleetLock(root, options.name, () => createFleet(root, options, log));
}

async function createFleet(root: string, options: UpOptions, log: (line: string) => void): Promise<UpResult> {
  const name = options.name;
  const repoRoot = resolveRepoRoot(options.repoRoot);
  const dir = fleetDir(root, name);
  const files = {
    privateKeyFile: path.join(dir, 'id_ed25519'),
    knownHostsFile: path.join(dir, 'known_hosts'),
    specFile: path.join(dir, 'cluster.yaml'),
  };

  const existing = readExistingRecord(root, name, log);
  if (existing !== undefined) {
    const requestedIndex = options.index ?? existing.index;
    const sameShape = requestedIndex === existing.index && sameLayout(existing.hosts, defaultLayout(options.hosts, requestedIndex));
    if (sameShape && existing.state === 'ready' && (await fleetHealthy(root, existing))) {
      log(`${name}: already up with ${existing.hosts.length} hosts at index ${existing.index}; nothing to do`);
      return { name, index: existing.index, root, created: false, hosts: existing.hosts, ...files };
    }
    if (!sameShape && existing.state === 'ready') {
      throw new FleetUpError(
        `up ${name}: the fleet already exists with ${existing.hosts.length} hosts at index ${existing.index}; run down ${name} first to create it with ${options.hosts} hosts`,
      );
    }
    log(`${name}: removing the fleet left from an earlier up (state ${existing.state}) before creating it again`);
    await removeFleet(root, name, log);
  } else {
    // A crash before the record was written can still leave namespaces behind.
    await removeFleet(root, name, log);
  }

  if (options.skipPrerequisites) {
    requireSystemdStandin();
  } else {
    await ensureHostPackages(log);
    await ensureStandins(repoRoot, log);
  }

  const index = options.index ?? (name === DEMO_FLEET ? DEMO_FLEET_INDEX : chooseFreeIndex(root, name));
  if (options.index !== undefined || name === DEMO_FLEET) checkIndexFree(root, name, index);
  const hosts = defaultLayout(options.hosts, index);
  const record: FleetRecord = {
    name,
    index,
    hosts,
    state: 'creating',
    diskMiB: options.diskMiB ?? DEFAULT_DISK_MIB,
    createdAt: new Date().toISOString(),
  };
  // The record comes first, so that down can find the bridge and hosts of a half-created fleet.
  writeFleetRecord(root, record);
  log(`${name}: creating ${hosts.length} hosts at index ${index} (198.18.${index}.0/24)`);

  await runChecked(
    ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `kboot-sandbox-${name}`, '-f', files.privateKeyFile],
    { timeoutMs: 30_000 },
  );
  const fleetPublicKey = fs.readFileSync(`${files.privateKeyFile}.pub`, 'utf8');
  installBootScript(root, name, path.join(repoRoot, 'sandbox', 'fleet', 'host-boot.sh'));
  await ensureBridge(name, index);

  const hostTimeoutMs = options.hostTimeoutMs ?? DEFAULT_HOST_TIMEOUT_MS;
  const started = Date.now();
  const booted = await mapSettledWithLimit(hosts, options.concurrency ?? DEFAULT_CONCURRENCY, async (host) => {
    await wireHost({ fleet: name, host: host.name, index, number: host.number, address: host.address });
    await bootHost({
      root,
      fleet: name,
      host: host.name,
      address: host.address,
      diskMiB: record.diskMiB,
      fleetPublicKey,
      standinBinDir: standinBinDir(),
      timeoutMs: hostTimeoutMs,
    });
  });
  throwIfAnyFailed(name, hosts, booted, 'boot');
  log(`${name}: booted ${hosts.length} hosts in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  writeKnownHosts(root, name, hosts, files.knownHostsFile);

  // Each host has been booting since its own start, so the SSH waits overlap with the boots above.
  const reachable = await mapSettledWithLimit(hosts, options.concurrency ?? DEFAULT_CONCURRENCY, (host) =>
    waitForSshLogin(host, files.privateKeyFile, files.knownHostsFile, hostTimeoutMs),
  );
  throwIfAnyFailed(name, hosts, reachable, 'SSH login');
  log(`${name}: all ${hosts.length} hosts accept SSH logins as kboot with sudo, ${((Date.now() - started) / 1000).toFixed(1)} s after the first boot`);

  fs.writeFileSync(
    files.specFile,
    renderClusterSpec({
      name,
      hosts,
      privateKeyFile: files.privateKeyFile,
      knownHostsFile: files.knownHostsFile,
      packageRepositoryDir: path.join(repoRoot, 'sandbox', 'repo'),
    }),
  );
  writeFleetRecord(root, { ...record, state: 'ready' });
  return { name, index, root, created: true, hosts, ...files };
}

function readExistingRecord(root: string, name: string, log: (line: string) => void): FleetRecord | undefined {
  try {
    return readFleetRecord(root, name);
  } catch (error) {
    log(`${name}: ${(error as Error).message}`);
    return undefined;
  }
}

/** Returns true when every host's PID 1 runs and its sshd port accepts TCP connections. */
export async function fleetHealthy(root: string, record: FleetRecord): Promise<boolean> {
  if (!linkExists(bridgeName(record.index))) return false;
  for (const host of record.hosts) {
    if (runningInitPid(root, record.name, host.name) === undefined) return false;
  }
  const open = await Promise.all(record.hosts.map((host) => tcpPortOpen(host.address, 22, 2_000)));
  return open.every(Boolean);
}

function chooseFreeIndex(root: string, name: string): number {
  const usedIndexes = new Set(listFleetRecords(root).filter((record) => record.name !== name).map((record) => record.index));
  for (let index = DEMO_FLEET_INDEX + 1; index <= MAX_FLEET_INDEX; index++) {
    if (!usedIndexes.has(index) && !linkExists(bridgeName(index))) return index;
  }
  throw new FleetUpError(`up ${name}: every fleet index from ${DEMO_FLEET_INDEX + 1} to ${MAX_FLEET_INDEX} is in use; run down on a fleet you no longer need`);
}

function checkIndexFree(root: string, name: string, index: number): void {
  const owner = listFleetRecords(root).find((record) => record.index === index && record.name !== name);
  if (owner !== undefined) {
    throw new FleetUpError(`up ${name}: fleet index ${index} belongs to fleet ${owner.name}; choose another index or run down ${owner.name}`);
  }
  if (linkExists(bridgeName(index))) {
    throw new FleetUpError(
      `up ${name}: bridge ${bridgeName(index)} of fleet index ${index} exists but no fleet under ${root} owns it (another sandbox root?); choose another index`,
    );
  }
}

function throwIfAnyFailed(name: string, hosts: HostLayout[], settled: PromiseSettledResult<unknown>[], step: string): void {
  const failures = settled.flatMap((outcome, position) =>
    outcome.status === 'rejected' ? [`${hosts[position]!.name}: ${(outcome.reason as Error).message}`] : [],
  );
  if (failures.length > 0) {
    throw new FleetUpError(
      `up ${name}: ${step} failed on ${failures.length} of ${hosts.length} hosts: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? '; ...' : ''}. Run down ${name} to remove the half-created fleet`,
    );
  }
}

/** Writes known_hosts from the host keys each host published at boot (never from the network). */
export function writeKnownHosts(root: string, fleet: string, hosts: readonly HostLayout[], file: string): void {
  const lines: string[] = [];
  for (const host of hosts) {
    const keyDir = path.join(hostDir(root, fleet, host.name), 'hostkeys');
    for (const keyFile of fs.readdirSync(keyDir).filter((entry) => entry.endsWith('.pub')).sort()) {
      const [type, key] = fs.readFileSync(path.join(keyDir, keyFile), 'utf8').trim().split(/\s+/);
      if (type === undefined || key === undefined) {
        throw new FleetUpError(`write known_hosts: host key ${path.join(keyDir, keyFile)} of ${host.name} is malformed`);
      }
      lines.push(`${host.address} ${type} ${key}`);
    }
  }
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, lines.join('\n') + '\n');
  fs.renameSync(temporary, file);
}

/** Returns the OpenSSH client options that log in to fleet hosts with strict host key checking. */
export function sshClientOptions(privateKeyFile: string, knownHostsFile: string, connectTimeoutSeconds: number): string[] {
  return [
    '-F', '/dev/null',
    '-i', privateKeyFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${connectTimeoutSeconds}`,
  ];
}

/** Waits until `ssh kboot@host sudo -n true` succeeds with the fleet key; throws after timeoutMs. */
async function waitForSshLogin(host: HostLayout, privateKeyFile: string, knownHostsFile: string, timeoutMs: number): Promise<void> {
  let lastFailure = 'no attempt finished';
  const ok = await pollUntil(
    async () => {
      const result = await run(
        ['ssh', ...sshClientOptions(privateKeyFile, knownHostsFile, 3), `kboot@${host.address}`, 'sudo', '-n', 'true'],
        { timeoutMs: SSH_ATTEMPT_TIMEOUT_MS },
      );
      if (result.exitCode === 0) return true;
      lastFailure = describeFailure(result);
      return undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
  if (!ok) throw new Error(`no SSH login as kboot with sudo at ${host.address} within ${timeoutMs} ms: ${lastFailure}`);
}
