/**
 * The fleet's network in the root namespace: one bridge per fleet, one veth pair per host with the
 * host end (`eth0`) inside the host's network namespace.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

import {
  PREFIX_LENGTH,
  bridgeAddress,
  bridgeName,
  netnsName,
  vethName,
} from './names.js';
import { CommandFailedError, run, runChecked } from './run.js';

const IP_TIMEOUT_MS = 15_000;

export function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

export async function listNetns(): Promise<string[]> {
  const result = await runChecked(['ip', 'netns', 'list'], { timeoutMs: IP_TIMEOUT_MS });
  // Lines read "name" or "name (id: 3)".
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/**
 * Creates the fleet's bridge with 198.18.<index>.1/24 unless it exists. Forwarding is switched off on
 * the bridge so that a host's packets for any address outside the fleet end in the root namespace
 * instead of leaving the machine.
 */
export async function ensureBridge(fleet: string, index: number): Promise<void> {
  const bridge = bridgeName(index);
  if (!linkExists(bridge)) {
    await runChecked(['ip', 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], {
      timeoutMs: IP_TIMEOUT_MS,
    });
  }
  // The alias names the owning fleet, so down finds the bridge even when the fleet record is lost.
  await runChecked(['ip', 'link', 'set', bridge, 'alias', bridgeAlias(fleet)], { timeoutMs: IP_TIMEOUT_MS });
  await runChecked(['ip', 'addr', 'replace', `${bridgeAddress(index)}/${PREFIX_LENGTH}`, 'dev', bridge], {
    timeoutMs: IP_TIMEOUT_MS,
  });
  // NOTE: writing net.ipv4.ip_forward=1 later resets this per-interface value to 1 as well.
  fs.writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, '0\n');
  await runChecked(['ip', 'link', 'set', bridge, 'up'], { timeoutMs: IP_TIMEOUT_MS });
}

export function bridgeAlias(fleet: string): string {
  return `kboot-sandbox fleet ${fleet}`;
}

/** Returns a link's alias, or '' when it has none or does not exist. */
export function linkAlias(name: string): string {
  try {
    return fs.readFileSync(`/sys/class/net/${name}/ifalias`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Returns the bridges whose alias names `fleet` as their owner. */
export function fleetBridges(fleet: string): string[] {
  let links: string[];
  try {
    links = fs.readdirSync('/sys/class/net').filter((link) => /^kbbr[0-9]+$/.test(link));
  } catch {
    return [];
  }
  return links.filter((link) => linkAlias(link) === bridgeAlias(fleet));
}

export interface HostLink {
  fleet: string;
  host: string;
  index: number;
  number: number;
  address: string;
}

/**
 * Creates the host's network namespace and veth pair, gives `eth0` the host's address and a default
 * route through the bridge, and brings `lo` and both veth ends up. Any leftover namespace or veth of
 * the same name is removed first.
 */
export async function wireHost(link: HostLink): Promise<void> {
  const netns = netnsName(link.fleet, link.host);
  const veth = vethName(link.index, link.number);
  const options = { timeoutMs: IP_TIMEOUT_MS };

  await run(['ip', 'netns', 'delete', netns], options);
  if (linkExists(veth)) await run(['ip', 'link', 'delete', veth], options);

  await runChecked(['ip', 'netns', 'add', netns], options);
  await runChecked(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], options);
  await runChecked(['ip', 'link', 'set', veth, 'master', bridgeName(link.index), 'up'], options);
  await runChecked(['ip', '-n', netns, 'link', 'set', 'lo', 'up'], options);
  await runChecked(['ip', '-n', netns, 'addr', 'add', `${link.address}/${PREFIX_LENGTH}`, 'dev', 'eth0'], options);
  await runChecked(['ip', '-n', netns, 'link', 'set', 'eth0', 'up'], options);
  await runChecked(['ip', '-n', netns, 'route', 'add', 'default', 'via', bridgeAddress(link.index)], options);
}

/** Sets the root-namespace end of a host's veth up or down; down cuts the host off the fleet. */
export async function setHostLink(index: number, number: number, state: 'up' | 'down'): Promise<void> {
  await runChecked(['ip', 'link', 'set', vethName(index, number), state], { timeoutMs: IP_TIMEOUT_MS });
}

export function hostLinkState(index: number, number: number): 'up' | 'down' | 'missing' {
  try {
    const flags = Number.parseInt(fs.readFileSync(`/sys/class/net/${vethName(index, number)}/flags`, 'utf8'), 16);
    // IFF_UP is bit 0.
    return (flags & 1) === 1 ? 'up' : 'down';
  } catch {
    return 'missing';
  }
}

/** Deletes a link if it exists; deleting one end of a veth pair deletes both. */
export async function deleteLink(name: string): Promise<void> {
  if (!linkExists(name)) return;
  const result = await run(['ip', 'link', 'delete', name], { timeoutMs: IP_TIMEOUT_MS });
  // The kernel removes a veth asynchronously once its peer's namespace is gone, so the link may vanish
  // between the check and the delete.
  if (result.exitCode !== 0 && linkExists(name)) throw new CommandFailedError(['ip', 'link', 'delete', name], result);
}

export async function deleteNetns(name: string): Promise<void> {
  if (!fs.existsSync(`/run/netns/${name}`)) return;
  await runChecked(['ip', 'netns', 'delete', name], { timeoutMs: IP_TIMEOUT_MS });
}

/** Returns the root-namespace pids of every process in the named network namespace. */
export async function netnsPids(name: string): Promise<number[]> {
  if (!fs.existsSync(`/run/netns/${name}`)) return [];
  const result = await run(['ip', 'netns', 'pids', name], { timeoutMs: IP_TIMEOUT_MS });
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** Returns true when a TCP connection to address:port succeeds within timeoutMs. */
export function tcpPortOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const finish = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
