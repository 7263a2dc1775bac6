/**
 * The layout of a fleet (which hosts, at which addresses, with which roles) and the record of it that
 * `up` writes before it creates anything, so that `down` can undo a half-finished `up`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { fleetDir, hostAddress, validateFleetIndex, validateFleetName, validateHostCount } from './names.js';

export type Role = 'etcd' | 'master' | 'node';

export interface HostLayout {
  name: string;
  /** 1-based position in the fleet; it picks the address and the veth name. */
  number: number;
  address: string;
  roles: Role[];
}

/** Contents of `<root>/<fleet>/fleet.json`. */
export interface FleetRecord {
  name: string;
  index: number;
  hosts: HostLayout[];
  /** `creating` until every host accepted the fleet key over SSH, then `ready`. */
  state: 'creating' | 'ready';
  /** Size of each host's disk (the tmpfs under its overlays), in MiB. */
  diskMiB: number;
  createdAt: string;
}

/**
 * Returns the default layout for `count` hosts: host 1 is `master` (roles etcd and master), the others
 * are node1..node{count-1} (role node). node1 and node2 are etcd members too when count >= 3, which
 * gives 3 etcd members for 4 hosts.
 */
export function defaultLayout(count: number, index: number): HostLayout[] {
  validateHostCount(count);
  validateFleetIndex(index);
  const hosts: HostLayout[] = [{ name: 'master', number: 1, address: hostAddress(index, 1), roles: ['etcd', 'master'] }];
  for (let number = 2; number <= count; number++) {
    const nodeNumber = number - 1;
    const roles: Role[] = count >= 3 && nodeNumber <= 2 ? ['etcd', 'node'] : ['node'];
    hosts.push({ name: `node${nodeNumber}`, number, address: hostAddress(index, number), roles });
  }
  return hosts;
}

/** Returns true when two layouts have the same hosts, addresses and roles in the same order. */
export function sameLayout(a: readonly HostLayout[], b: readonly HostLayout[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function fleetRecordPath(root: string, fleet: string): string {
  return path.join(fleetDir(root, fleet), 'fleet.json');
}

/** Reads the fleet record, or returns undefined when the fleet has none. */
export function readFleetRecord(root: string, fleet: string): FleetRecord | undefined {
  validateFleetName(fleet);
  const file = fleetRecordPath(root, fleet);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as FleetRecord;
  } catch (error) {
    throw new Error(`read fleet record ${file}: invalid JSON (${(error as Error).message}); run down to remove the fleet`);
  }
}

/** Writes the fleet record atomically (write to a temporary file, then rename). */
export function writeFleetRecord(root: string, record: FleetRecord): void {
  const file = fleetRecordPath(root, record.name);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(record, null, 2) + '\n');
  fs.renameSync(temporary, file);
}

/** Lists the records of all fleets under `root`, skipping directories without a readable record. */
export function listFleetRecords(root: string): FleetRecord[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: FleetRecord[] = [];
  for (const entry of entries) {
    try {
      const record = readFleetRecord(root, entry);
      if (record) records.push(record);
    } catch {
      // Not a fleet directory, or a record that down will clean up.
    }
  }
  return records;
}
