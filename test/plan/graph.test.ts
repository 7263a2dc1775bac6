import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildPlan, renderStep, stepsForHost } from '../../plan/index';
import { parseSpec } from '../../client/spec-file';
import { splitIntoRuns } from '../../workflows/rollout';

const { spec } = parseSpec(readFileSync(resolve(__dirname, '../../examples/cluster.yaml'), 'utf8'), '/specs/cluster.yaml');
const plan = buildPlan(spec);
const task = (id: string) => {
  const found = plan.tasks.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no task ${id}`);
  return found;
};

describe('planner', () => {
  test('steps per role', () => {
    expect(plan.hostSteps.master1).toEqual(['preflight', 'packages', 'hosts-file', 'etcd', 'master']);
    expect(plan.hostSteps.node1).toEqual(['preflight', 'packages', 'hosts-file', 'etcd', 'flanneld', 'docker', 'node']);
    expect(plan.hostSteps.node3).toEqual(['preflight', 'packages', 'hosts-file', 'flanneld', 'docker', 'node']);
  });

  test('quorum gate waits for every member', () => {
    expect([...task('gate:etcd-quorum').needs].sort()).toEqual(['etcd@master1', 'etcd@node1', 'etcd@node2']);
    expect(task('gate:etcd-quorum').runsOn).toBe('master1');
  });

  test('flannel key only after quorum', () => {
    expect(task('gate:flannel-network').needs).toEqual(['gate:etcd-quorum']);
    expect(task('flanneld@node3').needs).toEqual(['packages@node3', 'hosts-file@node3', 'gate:flannel-network']);
  });

  test('node waits for its docker and the control plane only', () => {
    expect(task('node@node3').needs).toEqual(['docker@node3', 'gate:control-plane']);
    expect(task('gate:control-plane').needs).toEqual(['master@master1']);
    expect([...task('gate:cluster-ready').needs].sort()).toEqual(['gate:control-plane', 'node@node1', 'node@node2', 'node@node3']);
  });

  test('master waits for quorum, not for nodes', () => {
    expect(task('master@master1').needs).toEqual(['packages@master1', 'hosts-file@master1', 'gate:etcd-quorum']);
  });

  test('every need is a task', () => {
    const ids = new Set(plan.tasks.map((candidate) => candidate.id));
    for (const candidate of plan.tasks) for (const need of candidate.needs) expect(ids).toContain(need);
  });

  test('host runs split at gates', () => {
    expect(splitIntoRuns(plan.hostSteps.node1)).toEqual([['preflight', 'packages', 'hosts-file', 'etcd'], ['flanneld', 'docker'], ['node']]);
    expect(splitIntoRuns(plan.hostSteps.master1)).toEqual([['preflight', 'packages', 'hosts-file', 'etcd'], ['master']]);
  });

  test('etcd.conf lists the full initial cluster', () => {
    const etcd = renderStep(spec, 'etcd', 'node1');
    const conf = etcd.files[0].content;
    expect(conf).toContain('ETCD_NAME="node1"');
    expect(conf).toContain('ETCD_INITIAL_CLUSTER="master1=http://10.20.0.10:2380,node1=http://10.20.0.11:2380,node2=http://10.20.0.12:2380"');
    expect(conf).toContain('ETCD_LISTEN_CLIENT_URLS="http://10.20.0.11:2379,http://127.0.0.1:2379"');
    expect(conf).not.toContain('ETCD_ENABLE_V2');
  });

  test('packages follow the roles', () => {
    expect(renderStep(spec, 'packages', 'master1').ensures[0].apply).toContain('timeout --kill-after=10 600 yum install -y etcd kubernetes\n');
    expect(renderStep(spec, 'packages', 'node3').ensures[0].apply).toContain('timeout --kill-after=10 600 yum install -y docker flannel kubernetes\n');
    expect(renderStep(spec, 'packages', 'node3').ensures[0].check).toBe('rpm -q docker flannel kubernetes >/dev/null');
  });

  test('step rejects a host without its role', () => {
    expect(() => renderStep(spec, 'docker', 'master1')).toThrow('step docker does not apply to host master1');
  });

  test('rendering is deterministic', () => {
    expect(JSON.stringify(buildPlan(spec))).toBe(JSON.stringify(plan));
    expect(JSON.stringify(renderStep(spec, 'master', 'master1'))).toBe(JSON.stringify(renderStep(spec, 'master', 'master1')));
  });

  test('hosts-file block names every host', () => {
    const block = renderStep(spec, 'hosts-file', 'node2').blocks[0];
    expect(block.content.split('\n')).toEqual(['10.20.0.10 master1', '10.20.0.11 node1', '10.20.0.12 node2', '10.20.0.13 node3']);
  });

  test('single host cluster plans', () => {
    const single = { ...spec, hosts: [{ name: 'solo', address: '10.20.0.5', roles: ['etcd' as const, 'master' as const, 'node' as const] }] };
    expect(stepsForHost(single.hosts[0])).toEqual(['preflight', 'packages', 'hosts-file', 'etcd', 'flanneld', 'docker', 'master', 'node']);
    expect(buildPlan(single).tasks.find((candidate) => candidate.id === 'node@solo')?.needs).toEqual(['docker@solo', 'gate:control-plane']);
  });
});
