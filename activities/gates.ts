/**
 * Gate checks: the cross-host barriers of a rollout. Each runs on one host over SSH and reads the
 * cluster's own answer (etcd's member list and health, the API server's node list), so a gate
 * opens only on what the cluster itself reports.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  command,
  type ClusterSpec,
  etcdClientUrls,
  findHost,
  hostsWithRole,
  quote,
} from '../plan/index.js';
import type { GateActivityInput, GateActivityResult } from './contract.js';
import { sshEndpoint } from './endpoint.js';
import { runRemote } from './remote.js';
import type { SshPool } from './ssh/index.js';

const GATE_SCRIPT_TIMEOUT_MS = 60_000;

type Runner = (script: string) => Promise<string>;

/** A check that did not pass yet; retried by the activity's retry policy. */
function notYet(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'GateNotReady', message });
}

function etcdctl(spec: ClusterSpec, api: 'v2' | 'v3', ...args: string[]): string {
  return `ETCDCTL_API=${api === 'v2' ? 2 : 3} ${command('etcdctl', `--endpoints=${etcdClientUrls(spec)}`, ...args)}`;
}

interface MemberList {
  members?: Array<{ name?: string; peerURLs?: string[]; clientURLs?: string[] }>;
}

interface EndpointHealth {
  endpoint: string;
  health: boolean;
  error?: string;
}

async function etcdQuorum(spec: ClusterSpec, run: Runner): Promise<string> {
  const expected = hostsWithRole(spec, 'etcd');
  const output = await run(`${etcdctl(spec, 'v3', '--write-out=json', 'member', 'list')}
echo '---'
${etcdctl(spec, 'v3', '--write-out=json', 'endpoint', 'health')} || true`);
  const [membersJson, healthJson] = output.split('\n---\n');
  const members = (JSON.parse(membersJson) as MemberList).members ?? [];
  const started = new Set(members.filter((member) => member.name).map((member) => member.name));
  const missing = expected.filter((member) => !started.has(member.name)).map((member) => member.name);
  const health = JSON.parse(healthJson.trim() || '[]') as EndpointHealth[];
  const unhealthy = expected.filter((member) => {
    const entry = health.find((candidate) => candidate.endpoint.includes(`//${member.address}:`));
    return !entry?.health;
  });
  if (missing.length > 0 || unhealthy.length > 0) {
    const problems = [
      missing.length > 0 ? `not started in the member list: ${missing.join(', ')}` : '',
      unhealthy.length > 0 ? `unhealthy: ${unhealthy.map((member) => `${member.name} (${member.address}:${spec.etcd.clientPort})`).join(', ')}` : '',
    ].filter(Boolean);
    throw notYet(`etcd quorum not reached, ${expected.length - unhealthy.length}/${expected.length} members healthy; ${problems.join('; ')}`);
  }
  return `etcd quorum: ${expected.length}/${expected.length} members healthy (${expected.map((member) => member.name).join(', ')})`;
}

/** The network config flanneld reads from `<prefix>/config`. */
export function flannelConfig(spec: ClusterSpec): { Network: string; SubnetLen: number; Backend: { Type: string } } {
  return { Network: spec.flannel.network, SubnetLen: spec.flannel.subnetLen, Backend: { Type: spec.flannel.backend } };
}

async function flannelNetwork(spec: ClusterSpec, run: Runner): Promise<string> {
  const { etcdApi, etcdPrefix } = spec.flannel;
  const key = `${etcdPrefix}/config`;
  const desired = flannelConfig(spec);
  const read = etcdApi === 'v3' ? etcdctl(spec, 'v3', 'get', '--print-value-only', key) : etcdctl(spec, 'v2', 'get', key);
  const write = etcdApi === 'v3' ? etcdctl(spec, 'v3', 'put', key, JSON.stringify(desired)) : etcdctl(spec, 'v2', 'set', key, JSON.stringify(desired));
  const sameAsDesired = (text: string): boolean => {
    try {
      return JSON.stringify(JSON.parse(text)) === JSON.stringify(desired);
    } catch {
      return false;
    }
  };

  const current = (await run(`${read} 2>/dev/null || true`)).trim();
  if (sameAsDesired(current)) return `flannel network ${key} already holds ${JSON.stringify(desired)}`;
  await run(`${write} >/dev/null`);
  // Read back through the same API flanneld uses, so a key written where flanneld does not look
  // is caught here rather than as a flanneld that never gets a lease.
  const written = (await run(read)).trim();
  if (!sameAsDesired(written)) {
    throw notYet(`flannel network ${key} reads back as ${JSON.stringify(written)} through the etcd ${etcdApi} API, expected ${JSON.stringify(desired)}`);
  }
  return current ? `flannel network ${key} changed from ${current} to ${JSON.stringify(desired)}` : `flannel network ${key} written: ${JSON.stringify(desired)}`;
}

async function controlPlane(spec: ClusterSpec, run: Runner): Promise<string> {
  const masters = hostsWithRole(spec, 'master');
  const checks = masters
    .map((master) => `curl -fsS --max-time 5 ${quote(`http://${master.address}:${spec.kubernetes.apiPort}/healthz`)} | grep -qx ok || echo ${quote(master.name)}`)
    .join('\n');
  const failing = (await run(checks)).split('\n').filter(Boolean);
  if (failing.length > 0) throw notYet(`control plane not healthy: kube-apiserver on ${failing.join(', ')} does not answer /healthz with ok`);
  return `control plane healthy on ${masters.map((master) => master.name).join(', ')}`;
}

interface NodeList {
  items?: Array<{ metadata?: { name?: string }; status?: { conditions?: Array<{ type?: string; status?: string }> } }>;
}

async function clusterReady(spec: ClusterSpec, run: Runner): Promise<string> {
  const expected = hostsWithRole(spec, 'node').map((node) => node.name);
  const body = await run(`curl -fsS --max-time 10 ${quote(`http://127.0.0.1:${spec.kubernetes.apiPort}/api/v1/nodes`)}`);
  const nodes = (JSON.parse(body) as NodeList).items ?? [];
  const ready = new Set(
    nodes
      .filter((node) => node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'))
      .map((node) => node.metadata?.name),
  );
  const registered = new Set(nodes.map((node) => node.metadata?.name));
  const missing = expected.filter((name) => !registered.has(name));
  const notReady = expected.filter((name) => registered.has(name) && !ready.has(name));
  if (missing.length > 0 || notReady.length > 0) {
    const problems = [missing.length > 0 ? `not registered: ${missing.join(', ')}` : '', notReady.length > 0 ? `not Ready: ${notReady.join(', ')}` : ''].filter(Boolean);
    throw notYet(`${expected.length - missing.length - notReady.length}/${expected.length} nodes Ready; ${problems.join('; ')}`);
  }
  return `${expected.length}/${expected.length} nodes registered and Ready`;
}

const CHECKS = {
  'etcd-quorum': etcdQuorum,
  'flannel-network': flannelNetwork,
  'control-plane': controlPlane,
  'cluster-ready': clusterReady,
} as const;

export async function checkGate(pool: SshPool, input: GateActivityInput): Promise<GateActivityResult> {
  const host = findHost(input.spec, input.host);
  const endpoint = sshEndpoint(input.spec.ssh, host.name, host.address, host.ssh);
  const run: Runner = async (script) =>
    (await runRemote(pool, endpoint, `set -euo pipefail\n${script}\n`, {
      action: `gate ${input.gate} on ${host.name}`,
      timeoutMs: GATE_SCRIPT_TIMEOUT_MS,
      maxOutputBytes: 4 * 1024 * 1024,
    })).stdout;
  return { summary: await CHECKS[input.gate](input.spec, run) };
}
