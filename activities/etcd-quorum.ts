/**
 * The etcd quorum gate. Before it judges health it looks at every member over SSH: the etcd unit's
 * state, where etcd listens, and whether each member reaches every other member's peer and client
 * port. So an unhealthy member comes with its cause, named by host and port. An etcd that listens
 * on localhost only (the packaged etcd.conf) reads differently from a firewall that drops the
 * port, and a member still starting reads differently from both.
 *
 * Outcomes: every member healthy opens the gate. A quorum healthy and the rest failed for a cause
 * that waiting cannot fix is "degraded": it opens the gate when etcd.allowDegraded is on and fails
 * it for good otherwise. No quorum that waiting cannot bring back fails for good. Anything that
 * may still settle (a member starting, joining) is retried.
 */
import { ApplicationFailure } from '@temporalio/common';
import { type ClusterSpec, type HostSpec, hostsWithRole, quote } from '../plan/index.js';
import type { GateActivityResult } from './contract.js';

/** Runs a script on the named host and returns its stdout; throws when the host cannot be reached. */
export type HostRunner = (host: string, script: string) => Promise<string>;

/** How long one TCP connection attempt between members may take before it counts as dropped. */
const PROBE_TIMEOUT_SECONDS = 3;

type ProbeResult = 'ok' | 'timeout' | 'refused' | 'unreachable';

interface Probe {
  from: string;
  to: string;
  port: number;
  result: ProbeResult;
}

interface MemberView {
  host: HostSpec;
  /** The etcd unit's ActiveState, or undefined when the host could not be read. */
  state?: string;
  /** Local addresses with a listener on the peer or client port, such as 127.0.0.1:2380. */
  listeners: string[];
  /** Connections this member tried to the other members' ports. */
  probes: Probe[];
  error?: string;
}

interface Finding {
  member: string;
  text: string;
  /** Waiting cannot fix it: the member failed, or a setting or firewall is wrong. */
  final: boolean;
}

function inspectScript(spec: ClusterSpec, member: HostSpec, members: HostSpec[]): string {
  const { peerPort, clientPort } = spec.etcd;
  const probes = members
    .filter((other) => other.name !== member.name)
    .flatMap((other) => [peerPort, clientPort].map((port) => ({ other, port })))
    .map(
      ({ other, port }) => `( output=$(timeout ${PROBE_TIMEOUT_SECONDS} bash -c ${quote(`exec 3<>/dev/tcp/${other.address}/${port}`)} 2>&1); code=$?
  if [ $code = 0 ]; then result=ok; elif [ $code = 124 ]; then result=timeout; elif grep -qi refused <<<"$output"; then result=refused; else result=unreachable; fi
  echo "probe ${other.name} ${port} $result" ) &`,
    )
    .join('\n');
  // Probes fail by design, so a failed command must not end the script.
  return `set +e +o pipefail
echo "state $(systemctl is-active etcd 2>/dev/null)"
ss -Hltn '( sport = :${peerPort} or sport = :${clientPort} )' 2>/dev/null | awk '{print "listen", $4}' || true
${probes}
wait`;
}

function parseView(host: HostSpec, output: string): MemberView {
  const view: MemberView = { host, listeners: [], probes: [] };
  for (const line of output.split('\n')) {
    const [kind, ...rest] = line.trim().split(' ');
    if (kind === 'state') view.state = rest.join(' ') || 'unknown';
    else if (kind === 'listen' && rest[0]) view.listeners.push(rest[0]);
    else if (kind === 'probe' && rest.length === 3) view.probes.push({ from: host.name, to: rest[0], port: Number(rest[1]), result: rest[2] as ProbeResult });
  }
  return view;
}

async function inspect(spec: ClusterSpec, runOn: HostRunner, member: HostSpec, members: HostSpec[]): Promise<MemberView> {
  try {
    return parseView(member, await runOn(member.name, inspectScript(spec, member, members)));
  } catch (error) {
    return { host: member, listeners: [], probes: [], error: (error as Error).message.split('\n')[0] };
  }
}

/** Returns why `port` on `view`'s host cannot be used by the other members, judged from where etcd listens. */
function listenerFinding(view: MemberView, port: number, role: string): Finding | undefined {
  const { host } = view;
  const onPort = view.listeners.filter((address) => address.endsWith(`:${port}`));
  const wildcard = onPort.some((address) => /^(0\.0\.0\.0|\*|\[::\]):/.test(address));
  if (wildcard || onPort.includes(`${host.address}:${port}`)) return undefined;
  if (onPort.length === 0) {
    return { member: host.name, text: `etcd does not listen on ${host.address}:${port} (${role}) yet`, final: false };
  }
  const loopbackOnly = onPort.every((address) => address.startsWith('127.') || address.startsWith('[::1]'));
  return {
    member: host.name,
    text: loopbackOnly
      ? `etcd listens on ${onPort.join(', ')} only, not ${host.address}:${port}, so its ${role} cannot reach it: the packaged /etc/etcd/etcd.conf listens on localhost, and something loads it over kboot's (systemctl cat etcd)`
      : `etcd listens on ${onPort.join(', ')}, not ${host.address}:${port}, so its ${role} cannot reach it (systemctl cat etcd)`,
    final: true,
  };
}

/** Returns why other members cannot connect to `view`'s host although etcd listens there. */
function reachFindings(view: MemberView, views: MemberView[], port: number): Finding[] {
  const failed = views.flatMap((other) => other.probes.filter((probe) => probe.to === view.host.name && probe.port === port && probe.result !== 'ok'));
  const target = `${view.host.address}:${port}`;
  const findings: Finding[] = [];
  const timedOut = failed.filter((probe) => probe.result === 'timeout').map((probe) => probe.from);
  if (timedOut.length > 0) {
    findings.push({
      member: view.host.name,
      text: `${target} does not answer from ${timedOut.join(', ')} (connection timed out) although etcd listens there: packets to tcp/${port} are dropped, most likely by a firewall on ${view.host.name} or between the hosts; allow tcp/${port} between the etcd members`,
      final: true,
    });
  }
  const refused = failed.filter((probe) => probe.result !== 'timeout').map((probe) => probe.from);
  if (refused.length > 0) {
    findings.push({
      member: view.host.name,
      text: `${target} rejects connections from ${refused.join(', ')} although etcd listens there: a firewall rejects tcp/${port}, or etcd is restarting`,
      // A restart between the look at the listeners and the connection reads the same way.
      final: false,
    });
  }
  return findings;
}

/** Everything that is wrong with one member, with the cause first. */
function diagnose(spec: ClusterSpec, view: MemberView, views: MemberView[], unavailable: boolean): Finding[] {
  const name = view.host.name;
  const findings: Finding[] = [];
  if (unavailable) findings.push({ member: name, text: 'its etcd step did not succeed (see the host)', final: true });
  if (view.error) return [...findings, { member: name, text: `cannot be inspected over SSH: ${view.error}`, final: unavailable }];
  if (view.state !== 'active' && view.state !== 'activating') return [...findings, { member: name, text: `etcd is ${view.state}`, final: true }];
  const listeners = [listenerFinding(view, spec.etcd.peerPort, 'peers'), listenerFinding(view, spec.etcd.clientPort, 'clients')].filter(
    (finding): finding is Finding => finding !== undefined,
  );
  if (listeners.length > 0) return [...findings, ...listeners];
  return [...findings, ...reachFindings(view, views, spec.etcd.peerPort), ...reachFindings(view, views, spec.etcd.clientPort)];
}

/** Per client URL, whether `etcdctl endpoint health` found it healthy, and the error it printed. */
function parseHealth(output: string): Map<string, { healthy: boolean; detail: string }> {
  const health = new Map<string, { healthy: boolean; detail: string }>();
  for (const line of output.split('\n')) {
    const match = /^(\S+) is (healthy|unhealthy): (.*)$/.exec(line.trim());
    if (match) health.set(match[1], { healthy: match[2] === 'healthy', detail: match[3] });
  }
  return health;
}

export interface QuorumInput {
  spec: ClusterSpec;
  /** The host the health check runs on. */
  host: string;
  unavailable: string[];
  runOn: HostRunner;
}

export async function checkEtcdQuorum({ spec, host, unavailable, runOn }: QuorumInput): Promise<GateActivityResult> {
  const members = hostsWithRole(spec, 'etcd');
  const clientUrl = (member: HostSpec): string => `http://${member.address}:${spec.etcd.clientPort}`;
  const etcdctl = `ETCDCTL_API=3 etcdctl --endpoints=${quote(members.map(clientUrl).join(','))} --dial-timeout=2s --command-timeout=5s`;
  const [views, clusterOutput] = await Promise.all([
    Promise.all(members.map((member) => inspect(spec, runOn, member, members))),
    runOn(host, `${etcdctl} endpoint health 2>&1 || true\necho '--- member list'\n${etcdctl} member list 2>/dev/null || true`),
  ]);
  const [healthOutput, memberList = ''] = clusterOutput.split('--- member list\n');
  const health = parseHealth(healthOutput);
  const registered = memberList.split('\n').filter((line) => line.split(', ')[2]);

  const findings: Finding[] = [];
  const healthy: string[] = [];
  for (const view of views) {
    const member = view.host;
    const own = diagnose(spec, view, views, unavailable.includes(member.name));
    const endpoint = health.get(clientUrl(member));
    if (own.length === 0 && !endpoint?.healthy) {
      own.push({ member: member.name, text: `etcd is ${view.state} but not healthy yet: ${endpoint?.detail ?? 'no answer'}`, final: false });
    }
    if (own.length === 0 && registered.length > 0 && !registered.some((line) => line.split(', ')[3]?.split(',').includes(`http://${member.address}:${spec.etcd.peerPort}`))) {
      own.push({ member: member.name, text: 'healthy but not in the cluster\'s member list: it belongs to another etcd cluster', final: true });
    }
    if (own.length === 0) healthy.push(member.name);
    findings.push(...own);
  }

  const total = members.length;
  const quorum = Math.floor(total / 2) + 1;
  if (findings.length === 0) return { summary: `etcd quorum: ${total}/${total} members healthy (${healthy.join(', ')})` };

  const byMember = [...new Set(findings.map((finding) => finding.member))];
  const described = byMember.map((member) => `${member}: ${findings.filter((finding) => finding.member === member).map((finding) => finding.text).join('; ')}`).join('; ');
  // A member with only findings that may settle can still become healthy without the operator.
  const mayRecover = byMember.filter((member) => findings.filter((finding) => finding.member === member).every((finding) => !finding.final));
  const healthyText = healthy.length > 0 ? healthy.join(', ') : 'none';

  if (healthy.length >= quorum) {
    const text = `etcd degraded, quorum ${healthy.length}/${total} (healthy: ${healthyText}); ${described}`;
    if (mayRecover.length > 0) throw ApplicationFailure.create({ type: 'GateNotReady', message: text });
    if (spec.etcd.allowDegraded) return { summary: text, degraded: text };
    throw ApplicationFailure.nonRetryable(
      `${text}. etcd.allowDegraded is off, so nothing that needs etcd starts: fix ${byMember.join(', ')}, then kboot retry ${spec.name} HOST for a failed host and kboot retry ${spec.name} gate:etcd-quorum; or set etcd.allowDegraded: true and apply again`,
      'EtcdDegraded',
    );
  }
  const text = `etcd has no quorum: ${healthy.length}/${total} members healthy (${healthyText}), ${quorum} needed; ${described}`;
  if (healthy.length + mayRecover.length >= quorum) throw ApplicationFailure.create({ type: 'GateNotReady', message: text });
  throw ApplicationFailure.nonRetryable(
    `${text}. Waiting cannot bring a quorum back: fix the members above, then kboot retry ${spec.name} HOST for a failed host and kboot retry ${spec.name} gate:etcd-quorum`,
    'EtcdNoQuorum',
  );
}
