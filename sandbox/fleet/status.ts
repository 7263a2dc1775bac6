/**
 * The state of a fleet as the machine shows it: which hosts run, whether their links are up and whether
 * their sshd accepts connections.
 */
import { runningInitPid } from './boot.js';
import { readFleetRecord, type FleetRecord, type Role } from './layout.js';
import { hostLinkState, linkExists, tcpPortOpen } from './network.js';
import { bridgeName, resolveSandboxRoot, validateFleetName } from './names.js';

export interface HostStatus {
  name: string;
  address: string;
  roles: Role[];
  /** Root-namespace pid of the host's PID 1, or null when the host is not running. */
  initPid: number | null;
  /** State of the host's veth on the bridge: `down` after cutLink, `missing` when the host was never wired. */
  link: 'up' | 'down' | 'missing';
  /** True when a TCP connection to port 22 succeeded within 1 s. */
  sshPortOpen: boolean;
}

export interface FleetStatus {
  name: string;
  root: string;
  /** False when there is no fleet of that name; the other fields are then empty. */
  exists: boolean;
  state: FleetRecord['state'] | null;
  index: number | null;
  bridgeUp: boolean;
  hosts: HostStatus[];
}

export async function status(name: string, options: { root?: string } = {}): Promise<FleetStatus> {
  validateFleetName(name);
  const root = resolveSandboxRoot(options.root);
  const record = readFleetRecord(root, name);
  if (record === undefined) {
    return { name, root, exists: false, state: null, index: null, bridgeUp: false, hosts: [] };
  }
  const hosts = await Promise.all(
    record.hosts.map(async (host): Promise<HostStatus> => {
      const initPid = runningInitPid(root, name, host.name) ?? null;
      const link = hostLinkState(record.index, host.number);
      const sshPortOpen = initPid !== null && link === 'up' ? await tcpPortOpen(host.address, 22, 1_000) : false;
      return { name: host.name, address: host.address, roles: host.roles, initPid, link, sshPortOpen };
    }),
  );
  return {
    name,
    root,
    exists: true,
    state: record.state,
    index: record.index,
    bridgeUp: linkExists(bridgeName(record.index)),
    hosts,
  };
}
