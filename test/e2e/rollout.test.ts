/**
 * The main job end to end: a 4-host sandbox fleet (master with an etcd member, three nodes, two of
 * them etcd members), a real Temporal dev server, a kboot worker process and `kboot apply`. Every
 * check of the result reads the hosts directly, not through kboot.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { runKboot } from '../helpers/kboot';
import { onHost, readCounters, useSandboxRollout, type Counters } from '../helpers/rollout';

const FLEET = 'e2e';
const HOSTS = ['master', 'node1', 'node2', 'node3'];
const NODES = ['node1', 'node2', 'node3'];

jest.setTimeout(20 * 60_000);

const sandbox = useSandboxRollout(FLEET, 4);

const sh = (host: string, script: string): Promise<string> => onHost(FLEET, host, script);
const counters = (): Promise<Counters> => readCounters(FLEET, HOSTS);

describe('rollout on the sandbox fleet', () => {
  let firstCounters: Awaited<ReturnType<typeof counters>>;

  test('kboot apply completes', async () => {
    const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
    if (result.code !== 0) throw new Error(`kboot apply exited ${result.code}\n${result.stdout}\n${result.stderr}\nworker:\n${sandbox.worker.output().slice(-5000)}`);
    expect(result.stdout).toContain('rollout e2e succeeded');
    expect(result.stdout).toContain('/namespaces/default/workflows/kboot-e2e');
    firstCounters = await counters();
  });

  test('etcd has three healthy members, one cluster id', async () => {
    const endpoints = ['master', 'node1', 'node2'].map((host) => `http://${sandbox.fleet.hosts.find((entry) => entry.name === host)?.address}:2379`).join(',');
    const members = JSON.parse(await sh('master', `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} member list -w json`));
    expect(members.members.map((member: { name: string }) => member.name).sort()).toEqual(['master', 'node1', 'node2']);
    const statuses = JSON.parse(await sh('master', `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} endpoint status -w json`));
    expect(statuses).toHaveLength(3);
    expect(new Set(statuses.map((status: { Status: { header: { cluster_id: number } } }) => String(status.Status.header.cluster_id))).size).toBe(1);
    const health = JSON.parse(await sh('master', `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} endpoint health -w json`));
    expect(health.every((entry: { health: boolean }) => entry.health)).toBe(true);
  });

  test('flannel network key holds the spec values', async () => {
    const value = await sh('master', 'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --print-value-only /kboot.io/network/config');
    expect(JSON.parse(value)).toEqual({ Network: '10.244.0.0/16', SubnetLen: 24, Backend: { Type: 'vxlan' } });
  });

  test.each(NODES)('%s has a flannel lease and docker on it', async (node) => {
    const subnetEnv = await sh(node, 'cat /run/flannel/subnet.env');
    const subnet = /^FLANNEL_SUBNET=(\S+)$/m.exec(subnetEnv)?.[1];
    expect(subnet).toMatch(/^10\.244\.\d+\.1\/24$/);
    const leases = await sh('master', 'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --keys-only --prefix /kboot.io/network/subnets');
    expect(leases).toContain(`/kboot.io/network/subnets/${(subnet as string).replace('.1/24', '.0-24')}`);
    const dockerPid = (await sh(node, 'systemctl show -p MainPID --value docker')).trim();
    const commandLine = (await sh(node, `tr '\\0' ' ' < /proc/${dockerPid}/cmdline`)).trim();
    expect(commandLine).toContain(`--bip=${subnet}`);
    expect((await sh(node, 'ip -4 -o addr show dev docker0')).split(/\s+/)).toContain(subnet);
  });

  test('API server lists every node Ready', async () => {
    const nodes = JSON.parse(await sh('master', 'curl -fsS http://127.0.0.1:8080/api/v1/nodes'));
    const ready = nodes.items
      .filter((item: { status: { conditions: Array<{ type: string; status: string }> } }) =>
        item.status.conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
      )
      .map((item: { metadata: { name: string } }) => item.metadata.name)
      .sort();
    expect(ready).toEqual(NODES);
    expect(await sh('master', 'curl -fsS http://127.0.0.1:8080/healthz')).toBe('ok');
  });

  test('every unit started and package installed once', () => {
    for (const host of HOSTS) {
      for (const [name, count] of Object.entries(firstCounters[host].install ?? {})) expect([host, name, count]).toEqual([host, name, 1]);
      for (const [name, count] of Object.entries(firstCounters[host].start ?? {})) {
        if (name !== 'sshd.service') expect([host, name, count]).toEqual([host, name, 1]);
      }
    }
    expect(Object.keys(firstCounters.node3.install ?? {}).sort()).toEqual(['docker', 'flannel', 'kubernetes', 'kubernetes-client', 'kubernetes-master', 'kubernetes-node']);
  });

  test('second apply skips every step', async () => {
    const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/rollout e2e succeeded: 0 steps applied, 25 already done \(skipped\), 0 repaired after drift, 0 failed/);
    expect(await counters()).toEqual(firstCounters);
  });

  test('host runs are visible as workflows', async () => {
    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
    const client = new Client({ connection });
    const ids = new Set<string>();
    for await (const execution of client.workflow.list({ query: `WorkflowId STARTS_WITH 'kboot-e2e-node3-'` })) ids.add(execution.workflowId);
    expect([...ids].sort()).toEqual(['kboot-e2e-node3-flanneld', 'kboot-e2e-node3-node', 'kboot-e2e-node3-preflight']);
    await connection.close();
  });

  test('flannel backend change restarts flanneld and docker', async () => {
    const spec = parse(readFileSync(sandbox.fleet.specFile, 'utf8'));
    spec.flannel.backend = 'host-gw';
    const specFile = `${sandbox.fleet.specFile}.host-gw.yaml`;
    writeFileSync(specFile, stringify(spec));
    const before = await counters();

    const check = await runKboot(['check', specFile], sandbox.env);
    expect(check.code).toBe(5);
    for (const node of NODES) expect(check.stdout).toContain(`${node}: flanneld: inputs changed since it was applied`);

    const result = await runKboot(['apply', specFile], sandbox.env);
    expect(result.code).toBe(0);
    const value = await sh('master', 'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 get --print-value-only /kboot.io/network/config');
    expect(JSON.parse(value).Backend).toEqual({ Type: 'host-gw' });
    const after = await counters();
    for (const node of NODES) {
      expect([node, after[node].start['flanneld.service']]).toEqual([node, before[node].start['flanneld.service'] + 1]);
      // host-gw needs no encapsulation, so the lease's MTU grows and docker restarts to take it.
      expect(await sh(node, 'sed -n s/^FLANNEL_MTU=//p /run/flannel/subnet.env')).not.toBe('1450\n');
      expect([node, after[node].start['docker.service']]).toEqual([node, before[node].start['docker.service'] + 1]);
    }
    expect(after.master).toEqual(before.master);
  });

  test('check without a worker exits 3 at once', async () => {
    const result = await runKboot(['check', sandbox.fleet.specFile], { KBOOT_TASK_QUEUE: `${sandbox.env.KBOOT_TASK_QUEUE}-nobody` }, 60_000);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: no kboot worker polls task queue \S+-nobody at /);
  });
});
