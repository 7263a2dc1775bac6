/**
 * Removal of a fleet: every host's processes, network namespaces, veths, the bridge, mounts and the
 * state directory. It finds what to remove from the fleet record and from the names a fleet uses, so it
 * also cleans up after an `up` that crashed half way, and a second run finds nothing left to do.
 */
import * as fs from 'node:fs';

import { runningInitPid } from './boot.js';
import { readFleetRecord, type FleetRecord } from './layout.js';
import { withFleetLock } from './lock.js';
import { deleteLink, deleteNetns, fleetBridges, linkAlias, linkExists, listNetns, netnsPids } from './network.js';
import { bridgeName, fleetDir, resolveSandboxRoot, validateFleetName, vethName } from './names.js';
import { mapSettledWithLimit, pollUntil, run, sleep } from './run.js';

export interface DownOptions {
  root?: string;
  log?: (line: string) => void;
}

export interface DownResult {
  name: string;
  /** Network namespaces that were removed (none when the fleet did not exist). */
  removedNetns: string[];
  removedBridge: boolean;
}

/** Thrown when some part of a fleet could not be removed; running down again retries the rest. */
export class FleetDownError extends Error {
  override name = 'FleetDownError';
}

const KILL_ROUNDS = 20;
const KILL_ROUND_MS = 250;

/** Removes the fleet `name` entirely. Safe to run on a fleet that is half created or already gone. */
export async function down(name: string, options: DownOptions = {}): Promise<DownResult> {
  validateFleetName(name);
  const root = resolveSandboxRoot(options.root);
  return withFleetLock(root, name, () => removeFleet(root, name, options.log ?? (() => undefined)));
}

/** Does the work of down without taking the fleet lock; the caller must hold it. */
export async function removeFleet(root: string, name: string, log: (line: string) => void): Promise<DownResult> {
  let record: FleetRecord | undefined;
  try {
    record = readFleetRecord(root, name);
  } catch (error) {
    log(`${name}: ignoring an unreadable fleet record: ${(error as Error).message}`);
  }

  // Namespaces come from the record and from the names on the machine: a crash can leave a
  // namespace that the record never listed, or a record whose hosts were never created.
  const pattern = new RegExp(`^kb-${name}-[a-z][a-z0-9]*$`);
  const netnsNames = new Set((await listNetns()).filter((netns) => pattern.test(netns)));
  for (const host of record?.hosts ?? []) {
    if (fs.existsSync(`/run/netns/kb-${name}-${host.name}`)) netnsNames.add(`kb-${name}-${host.name}`);
  }

  const failures: string[] = [];
  const netnsList = [...netnsNames];
  const settled = await mapSettledWithLimit(netnsList, 8, async (netns) => {
    const host = netns.slice(`kb-${name}-`.length);
    await killHost(root, name, host, netns);
    await deleteNetns(netns);
  });
  settled.forEach((outcome, position) => {
    if (outcome.status === 'rejected') failures.push(`${netnsList[position]}: ${(outcome.reason as Error).message}`);
  });
  if (netnsList.length > 0) log(`${name}: removed ${netnsList.length - failures.length} host namespaces`);

  let removedBridge = false;
  try {
    const bridges = new Set(fleetBridges(name));
    // A bridge without an alias is one that up created and crashed before naming; one with another
    // fleet's alias is not ours even if the record says so.
    if (record !== undefined && linkExists(bridgeName(record.index)) && linkAlias(bridgeName(record.index)) === '') {
      bridges.add(bridgeName(record.index));
    }
    const indexes = [...bridges].map((bridge) => Number.parseInt(bridge.slice('kbbr'.length), 10));
    for (const index of indexes) {
      for (const veth of fleetVeths(index)) await deleteLink(veth);
    }
    for (const bridge of bridges) {
      await deleteLink(bridge);
      removedBridge = true;
    }
    // The kernel destroys the veths of deleted namespaces in the background; wait for that, so that
    // after down nothing of the fleet is left and an up right after finds free names.
    const gone = await pollUntil(() => (indexes.every((index) => fleetVeths(index).length === 0) ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    if (!gone) failures.push(`veths ${indexes.flatMap(fleetVeths).join(' ')} still exist after 10 s`);
  } catch (error) {
    failures.push(`links: ${(error as Error).message}`);
  }

  // The record is what the next down relies on, so the state directory goes only after the rest.
  const dir = fleetDir(root, name);
  if (failures.length === 0) {
    try {
      await unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`);
    }
  }

  if (failures.length > 0) {
    throw new FleetDownError(`down ${name}: could not remove ${failures.join('; ')}; run down again`);
  }
  return { name, removedNetns: netnsList, removedBridge };
}

/**
 * Kills every process of a host. Killing the host's PID 1 makes the kernel kill the rest of its PID
 * namespace; the loop then kills what is left in the network namespace (the unshare parent, and
 * processes that entered with nsenter).
 */
async function killHost(root: string, fleet: string, host: string, netns: string): Promise<void> {
  const initPid = runningInitPid(root, fleet, host);
  if (initPid !== undefined) killQuietly(initPid);
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) killQuietly(pid);
    await sleep(KILL_ROUND_MS);
  }
  const left = await netnsPids(netns);
  if (left.length > 0) {
    throw new Error(`processes ${left.join(' ')} still run after ${(KILL_ROUNDS * KILL_ROUND_MS) / 1000} s of SIGKILL`);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function fleetVeths(index: number): string[] {
  const pattern = new RegExp(`^${vethName(index, 0).replace(/0$/, '')}[0-9]+$`);
  try {
    return fs.readdirSync('/sys/class/net').filter((link) => pattern.test(link));
  } catch {
    return [];
  }
}

/** Lazily unmounts every root-namespace mount at or below `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mountPoints = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(decodeMountPath)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mountPoints) {
    const result = await run(['umount', '-l', mountPoint], { timeoutMs: 15_000 });
    if (result.exitCode !== 0) throw new Error(`umount -l ${mountPoint}: ${result.stderr.trim()}`);
  }
}

/** mountinfo escapes space, tab, newline and backslash as three octal digits. */
function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
