/**
 * Fleets for the benchmark: a fresh sandbox fleet for every scenario, with sshd set back to
 * OpenSSH's default session limits, and the fault that fails one node at its last step.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { down, hostExec, status, up, type UpResult } from '../sandbox/fleet/index.js';
import { describeFailure, mapSettledWithLimit } from '../sandbox/fleet/run.js';

/** What `sshd -T` prints for OpenSSH's defaults (sshd_config(5)): the limits a real host has. */
export const SSHD_DEFAULT_LIMITS = { maxSessions: 10, maxStartups: '10:30:100' };

/**
 * A drop-in that makes kubelet fail to start, as systemd fails a unit whose EnvironmentFile= is
 * missing. The node step is the last step of a node, so the node fails at its last step.
 */
export const FAULT_DROP_IN = '/etc/systemd/system/kubelet.service.d/99-bench-fault.conf';

export interface BenchFleet extends UpResult {
  /** The benchmark's copy of cluster.yaml, with rollout.parallelism set to the fleet size. */
  benchSpecFile: string;
}

async function onHost(fleet: string, host: string, script: string, timeoutMs = 30_000): Promise<string> {
  const result = await hostExec(fleet, host, ['bash', '-c', script], { timeoutMs });
  if (result.exitCode !== 0) throw new Error(`${fleet}/${host}: ${script.split('\n')[0]}: ${describeFailure(result)}`);
  return result.stdout;
}

/**
 * Removes the fleet if it exists, creates it with `hosts` hosts and writes the benchmark's spec,
 * in which the rollout runs as many hosts at once as Ansible runs forks.
 */
export async function freshFleet(name: string, hosts: number, repoRoot: string, log: (line: string) => void): Promise<BenchFleet> {
  await down(name);
  const fleet = await up({ name, hosts, repoRoot, log });
  await setDefaultSshdLimits(fleet);
  const spec = parse(readFileSync(fleet.specFile, 'utf8')) as { rollout?: Record<string, unknown> };
  spec.rollout = { ...spec.rollout, parallelism: hosts };
  const benchSpecFile = fleet.specFile.replace(/\.yaml$/, '-bench.yaml');
  writeFileSync(benchSpecFile, stringify(spec));
  return { ...fleet, benchSpecFile };
}

/**
 * The sandbox raises sshd's MaxSessions and MaxStartups for its own tests. The benchmark puts the
 * defaults back, so a tool that opened too many sessions or connections at once would fail here
 * as on a real host. sshd re-reads its configuration on SIGHUP.
 */
async function setDefaultSshdLimits(fleet: UpResult): Promise<void> {
  const script = `set -e
sed -i '/^MaxStartups /d; /^MaxSessions /d' /etc/ssh/sshd_config
kill -HUP "$(cat /run/sshd.pid)"
for attempt in $(seq 100); do
  if sshd -T 2>/dev/null | grep -qx 'maxsessions ${SSHD_DEFAULT_LIMITS.maxSessions}' &&
     sshd -T 2>/dev/null | grep -qx 'maxstartups ${SSHD_DEFAULT_LIMITS.maxStartups}' &&
     ss -Hltn 'sport = :22' | grep -q .; then exit 0; fi
  sleep 0.1
done
echo "sshd does not listen with the default limits 10 s after SIGHUP" >&2
exit 1`;
  const results = await mapSettledWithLimit(fleet.hosts, 10, (host) => onHost(fleet.name, host.name, script));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Counts sshd's messages for a limit that was hit, on every host of the fleet. OpenSSH 9.2 logs
 * "no more sessions" when MaxSessions refuses a session, and "beginning MaxStartups throttling" and
 * "drop connection #N ... past MaxStartups" for MaxStartups (checked on a sandbox host with the
 * default limits, 12 sessions on one connection and 15 unauthenticated connections).
 */
export async function sshdLimitMessages(fleet: string): Promise<number> {
  const hosts = (await status(fleet)).hosts.map((host) => host.name);
  const counts = await mapSettledWithLimit(hosts, 10, async (host) =>
    Number((await onHost(fleet, host, "grep -cE 'past MaxStartups|MaxStartups throttling|no more sessions' /var/log/kboot-sandbox/sshd.service.log || true")).trim()),
  );
  return counts.reduce((total, result) => {
    if (result.status === 'rejected') throw result.reason;
    return total + result.value;
  }, 0);
}

export async function injectKubeletFault(fleet: string, host: string): Promise<void> {
  await onHost(fleet, host, `mkdir -p "$(dirname ${FAULT_DROP_IN})" && printf '[Service]\\nEnvironmentFile=/etc/kubernetes/bench-fault-missing\\n' > ${FAULT_DROP_IN}`);
}

/** The operator's fix: remove the drop-in and reload, as one would after finding it. */
export async function fixKubeletFault(fleet: string, host: string): Promise<void> {
  await onHost(fleet, host, `rm -f ${FAULT_DROP_IN} && systemctl daemon-reload && (systemctl reset-failed kubelet || true)`);
}
