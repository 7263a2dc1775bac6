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
  flannelConfig,
  hostsWithRole,
  quote,
} from '../plan/index.js';
import type { GateActivityInput, GateActivityResult } from './contract.js';
import { sshEndpoint } from './endpoint.js';
import { checkEtcdQuorum, type HostRunner } from './etcd-quorum.js';
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

/**
 * Fails for good when a member does not serve the etcd v2 API that flannel.etcdApi v2 needs:
 * flanneld before 0.10 would then never find its network config and hang without a lease.
 */
async function requireV2Api(spec: ClusterSpec, run: Runner): Promise<void> {
  const members = hostsWithRole(spec, 'etcd');
  const checks = members
    .map((member) => `echo ${quote(member.name)} $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${quote(`http://${member.address}:${spec.etcd.clientPort}/v2/keys/`)} || true)`)
    .join('\n');
  const answers = (await run(checks)).split('\n').filter(Boolean).map((line) => line.split(' '));
  const disabled = answers.filter(([, code]) => code === '404').map(([name]) => name);
  if (disabled.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `etcd on ${disabled.join(', ')} does not serve the v2 API (HTTP 404 from /v2/keys on port ${spec.etcd.clientPort}), which flannel.etcdApi v2 needs: flanneld before 0.10 would never find its network config. kboot's etcd.conf sets ETCD_ENABLE_V2=true, so another setting overrides it (systemctl cat etcd); or run flannel 0.10 or later with flannel.etcdApi v3`,
      'EtcdV2Disabled',
    );
  }
  const silent = answers.filter(([, code]) => code !== '200').map(([name, code]) => `${name} (HTTP ${code || 'none'})`);
  if (silent.length > 0) throw notYet(`etcd v2 API gave no response on ${silent.join(', ')}`);
}

async function flannelNetwork(spec: ClusterSpec, run: Runner): Promise<string> {
  const { etcdApi, etcdPrefix } = spec.flannel;
  const key = `${etcdPrefix}/config`;
  const desired = flannelConfig(spec);
  const readWith = (api: 'v2' | 'v3'): string => (api === 'v3' ? etcdctl(spec, 'v3', 'get', '--print-value-only', key) : etcdctl(spec, 'v2', 'get', key));
  const read = readWith(etcdApi);
  const write = etcdApi === 'v3' ? etcdctl(spec, 'v3', 'put', key, JSON.stringify(desired)) : etcdctl(spec, 'v2', 'set', key, JSON.stringify(desired));
  const sameAsDesired = (text: string): boolean => {
    try {
      return JSON.stringify(JSON.parse(text)) === JSON.stringify(desired);
    } catch {
      return false;
    }
  };

  if (etcdApi === 'v2') await requireV2Api(spec, run);
  // The two keyspaces are separate: a key under the other API is invisible to this flanneld.
  const otherApi = etcdApi === 'v3' ? 'v2' : 'v3';
  const other = (await run(`${readWith(otherApi)} 2>/dev/null || true`)).trim();
  const otherNote = other && !sameAsDesired(other) ? `; the ${otherApi} keyspace holds another ${key} (${other}), which flanneld with flannel.etcdApi ${etcdApi} ignores` : '';

  const current = (await run(`${read} 2>/dev/null || true`)).trim();
  if (sameAsDesired(current)) return `flannel network ${key} already holds ${JSON.stringify(desired)} (etcd ${etcdApi} API)${otherNote}`;
  await run(`${write} >/dev/null`);
  // Read back through the same API flanneld uses, so a key written where flanneld does not look
  // is caught here rather than as a flanneld that never gets a lease.
  const written = (await run(read)).trim();
  if (!sameAsDesired(written)) {
    throw notYet(`flannel network ${key} reads back as ${JSON.stringify(written)} through the etcd ${etcdApi} API, expected ${JSON.stringify(desired)}`);
  }
  const change = current ? `changed from ${current} to ${JSON.stringify(desired)}` : `written: ${JSON.stringify(desired)}`;
  return `flannel network ${key} ${change} (etcd ${etcdApi} API, read back and checked)${otherNote}`;
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

async function clusterReady(spec: ClusterSpec, run: Runner, skipped: string[]): Promise<string> {
  const expected = hostsWithRole(spec, 'node')
    .map((node) => node.name)
    .filter((name) => !skipped.includes(name));
  // A skipped node may never register; saying so keeps the summary from passing for the whole spec.
  const skippedNote = skipped.length > 0 ? `; not checked, skipped by the operator: ${skipped.join(', ')}` : '';
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
    throw notYet(`${expected.length - missing.length - notReady.length}/${expected.length} nodes Ready; ${problems.join('; ')}${skippedNote}`);
  }
  return `${expected.length}/${expected.length} nodes registered and Ready${skippedNote}`;
}

const CHECKS = {
  'flannel-network': flannelNetwork,
  'control-plane': controlPlane,
  'cluster-ready': clusterReady,
} as const;

export async function checkGate(pool: SshPool, input: GateActivityInput): Promise<GateActivityResult> {
  const runOn: HostRunner = async (name, script) => {
    const host = findHost(input.spec, name);
    const endpoint = sshEndpoint(input.spec.ssh, host.name, host.address, host.ssh);
    const result = await runRemote(pool, endpoint, `set -euo pipefail\n${script}\n`, {
      action: `gate ${input.gate} on ${host.name}`,
      timeoutMs: GATE_SCRIPT_TIMEOUT_MS,
      maxOutputBytes: 4 * 1024 * 1024,
    });
    return result.stdout;
  };
  if (input.gate === 'etcd-quorum') {
    return checkEtcdQuorum({ spec: input.spec, host: input.host, unavailable: input.unavailable ?? [], runOn });
  }
  return { summary: await CHECKS[input.gate](input.spec, (script) => runOn(input.host, script), input.unavailable ?? []) };
}
