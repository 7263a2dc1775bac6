/**
 * The terminal views drawn from rollout states built here: progress per phase, host and gate,
 * fitting a small terminal, change lines, and the history table and its grouping of runs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { buildPlan, type StepId } from '../../plan/index';
import { parseSpec } from '../../client/spec-file';
import { groupRuns, historyQuery, InvalidClusterNameError, type RolloutRecord } from '../../client/history';
import { rolloutProgress, statusDocument } from '../../client/progress';
import { formatDuration, renderChanges, renderHistory, renderProgress } from '../../client/render';
import { type RolloutState, searchAttributes } from '../../workflows/definitions';
import { REPO_ROOT } from '../helpers/kboot';

const EXAMPLE = resolve(REPO_ROOT, 'examples/cluster.yaml');
const { spec } = parseSpec(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

/** Builds the example cluster mid-rollout: etcd quorum open, the master on its services, nodes spread out. */
function midRollout(): RolloutState {
  const plan = buildPlan(spec);
  const state: RolloutState = { phase: 'running', startedAt: T0, hosts: {}, gates: {}, generation: 0 };
  for (const [host, steps] of Object.entries(plan.hostSteps)) {
    state.hosts[host] = { status: 'pending', steps: Object.fromEntries(steps.map((step) => [step, { status: 'pending' }])) };
  }
  for (const task of plan.tasks) if (task.ref.kind === 'gate') state.gates[task.ref.gate] = { status: 'pending', runsOn: task.runsOn ?? '' };
  const done = (host: string, step: StepId, start: number, end: number): void => {
    state.hosts[host].steps[step] = { status: 'done', outcome: 'applied', startedAt: T0 + start * 1000, finishedAt: T0 + end * 1000 };
  };
  for (const host of ['master1', 'node1', 'node2', 'node3']) {
    done(host, 'preflight', 0, 2);
    done(host, 'packages', 2, 10);
    done(host, 'hosts-file', 10, 11);
  }
  for (const host of ['master1', 'node1', 'node2']) done(host, 'etcd', 11, 20);
  state.gates['etcd-quorum'] = { status: 'open', runsOn: 'master1', startedAt: T0 + 20_000, finishedAt: T0 + 23_000 };
  state.gates['flannel-network'] = { status: 'running', runsOn: 'master1', startedAt: T0 + 23_000 };
  state.hosts.master1.status = 'running';
  state.hosts.master1.steps.master = { status: 'running', startedAt: T0 + 23_000 };
  state.hosts.node1.status = 'waiting';
  state.hosts.node2.status = 'failed';
  state.hosts.node2.steps.flanneld = { status: 'failed', startedAt: T0 + 24_000, finishedAt: T0 + 30_000, error: 'flanneld did not write /run/flannel/subnet.env\nmore detail' };
  state.hosts.node2.failure = { step: 'flanneld', error: 'flanneld did not write /run/flannel/subnet.env\nmore detail', at: T0 + 30_000 };
  state.hosts.node3.status = 'waiting';
  return state;
}

const NOW = T0 + 35_000;

describe('renderProgress', () => {
  const lines = renderProgress('prod-east', midRollout(), NOW);
  const line = (prefix: string): string => {
    const found = lines.find((candidate) => candidate.startsWith(prefix));
    if (!found) throw new Error(`no line starting with ${JSON.stringify(prefix)} in:\n${lines.join('\n')}`);
    return found;
  };

  test('header names rollout, phase, elapsed', () => {
    expect(lines[0]).toBe('rollout prod-east: running, 35s');
  });

  test('phase lines count tasks', () => {
    expect(line('  preflight')).toMatch(/^ {2}preflight {2}\[#{20}\] +4\/4 +2s {2}done$/);
    expect(line('  etcd ')).toMatch(/^ {2}etcd +\[#{20}\] +4\/4 +12s {2}done$/);
    expect(line('  network')).toMatch(/\] +0\/4 +12s {2}1 running, 1 failed, 2 waiting$/);
    expect(line('  master ')).toMatch(/\] +0\/2 +12s {2}1 running, 1 waiting$/);
    expect(line('  verify')).toMatch(/\] +0\/1 +1 waiting$/);
  });

  test('host lines show each current step', () => {
    expect(line('  master1')).toMatch(/^ {2}master1 {2}running +4\/5 +12s {2}master \(Master services\)$/);
    expect(line('  node1')).toMatch(/^ {2}node1 +waiting +4\/7 +flanneld waits for gate flannel-network$/);
    expect(line('  node2')).toMatch(/^ {2}node2 +failed +4\/7 +flanneld failed: flanneld did not write \/run\/flannel\/subnet.env$/);
    expect(line('  node3')).toMatch(/^ {2}node3 +waiting +3\/6 +flanneld waits for gate flannel-network$/);
  });

  test('gate lines show status and host', () => {
    expect(line('  etcd-quorum')).toMatch(/^ {2}etcd-quorum +open +on master1 {2}3s$/);
    expect(line('  flannel-network')).toMatch(/^ {2}flannel-network {2}running {2}on master1 {2}12s$/);
    expect(line('  cluster-ready')).toMatch(/^ {2}cluster-ready +pending +on master1$/);
  });

  test('small terminal keeps failed and running hosts', () => {
    const small = renderProgress('prod-east', midRollout(), NOW, { rows: 21, columns: 60 });
    // 20 rows plus the cursor's: header, phase table (10), host header, 2 hosts, the summary line, gate table (5).
    expect(small).toHaveLength(20);
    expect(small.every((text) => text.length <= 60)).toBe(true);
    const hostLines = small.slice(small.findIndex((text) => text.startsWith('HOST')) + 1, small.indexOf('GATE'));
    expect(hostLines.map((text) => text.trim().split(/\s+/)[0])).toEqual(['master1', 'node2', '...']);
    expect(hostLines[2]).toBe('  ... 2 more hosts: 2 waiting');
    expect(small.find((text) => text.startsWith('  node2'))).toMatch(/\.\.\.$/);
  });

  test('notice goes last', () => {
    const withNotice = renderProgress('prod-east', midRollout(), NOW, {}, 'waiting for Temporal: connection refused');
    expect(withNotice[withNotice.length - 1]).toBe('waiting for Temporal: connection refused');
  });

  test('finished host shows its total time', () => {
    const state = midRollout();
    state.hosts.node3 = { status: 'done', steps: { preflight: { status: 'done', startedAt: T0, finishedAt: T0 + 61_000 } } };
    const node3 = renderProgress('prod-east', state, NOW).find((text) => text.startsWith('  node3'));
    expect(node3).toMatch(/^ {2}node3 +done +1\/1 +1m01s$/);
  });
});

describe('rolloutProgress', () => {
  test('sums phases, hosts and gates', () => {
    const progress = rolloutProgress(midRollout());
    expect(progress.phases.map((entry) => entry.phase)).toEqual(['preflight', 'packages', 'hosts', 'etcd', 'network', 'docker', 'master', 'node', 'verify']);
    const network = progress.phases.find((entry) => entry.phase === 'network')!;
    expect(network).toEqual({ phase: 'network', total: 4, done: 0, running: 1, failed: 1, waiting: 2, skipped: 0, startedAt: T0 + 23_000 });
    expect(progress.phases.find((entry) => entry.phase === 'etcd')?.finishedAt).toBe(T0 + 23_000);
    expect(progress.hosts.master1).toEqual({
      status: 'running',
      step: 'master',
      stepTitle: 'Master services',
      stepStartedAt: T0 + 23_000,
      stepsDone: 4,
      stepsTotal: 5,
      startedAt: T0,
      waitingFor: [],
    });
    expect(progress.hosts.node1.waitingFor).toEqual(['flannel-network']);
    expect(progress.hosts.node2.error).toBe('flanneld did not write /run/flannel/subnet.env');
    expect(progress.gates['flannel-network']?.title).toBe('flannel network config written to etcd');
  });

  test('status document carries both views', () => {
    const state = midRollout();
    const document = statusDocument({ cluster: 'prod-east', workflowId: 'kboot-prod-east', runId: 'r1', execution: 'RUNNING', state }, NOW);
    expect(document.observedAt).toBe('2026-01-01T10:00:35.000Z');
    expect(document.state).toBe(state);
    expect(document.progress?.hosts.node3.step).toBe('flanneld');
    expect(JSON.parse(JSON.stringify(document)).progress.phases).toHaveLength(9);
  });
});

describe('renderChanges', () => {
  test('one line per change, in time order', () => {
    const before = midRollout();
    const after = midRollout();
    after.hosts.master1.steps.master = { status: 'done', outcome: 'applied', startedAt: T0 + 23_000, finishedAt: T0 + 31_000 };
    after.gates['flannel-network'] = { status: 'open', runsOn: 'master1', startedAt: T0 + 23_000, finishedAt: T0 + 25_000 };
    after.hosts.node1.steps.flanneld = { status: 'running', startedAt: T0 + 25_000 };
    after.phase = 'waiting-for-operator';
    expect(renderChanges(before, after)).toEqual([
      'gate flannel-network: open',
      'node1: flanneld started',
      'master1: master applied in 8s',
      'rollout: waiting-for-operator',
    ]);
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [59_400, '59s'],
    [61_000, '1m01s'],
    [3_600_000 + 120_000, '1h02m'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

/** A visibility row as the client returns it, with only the fields the history reads. */
function run(runId: string, status: string, start: number, close: number | undefined, phase?: string): WorkflowExecutionInfo {
  const attributes = new TypedSearchAttributes([
    { key: searchAttributes.cluster, value: 'prod-east' },
    { key: searchAttributes.failedHosts, value: 0 },
    ...(phase ? [{ key: searchAttributes.phase, value: phase }] : []),
  ]);
  return {
    workflowId: 'kboot-prod-east',
    runId,
    status: { name: status },
    startTime: new Date(T0 + start * 1000),
    closeTime: close === undefined ? undefined : new Date(T0 + close * 1000),
    typedSearchAttributes: attributes,
  } as unknown as WorkflowExecutionInfo;
}

describe('history', () => {
  test('runs chained by continue-as-new form one rollout', () => {
    const records = groupRuns([
      run('r1', 'COMPLETED', 0, 100, 'succeeded'),
      run('r2', 'FAILED', 200, 300, 'aborted'),
      run('r3a', 'CONTINUED_AS_NEW', 400, 500, 'docker'),
      run('r3b', 'CONTINUED_AS_NEW', 500, 600, 'node'),
      run('r3c', 'RUNNING', 600, undefined, 'waiting-for-operator'),
    ]);
    expect(records.map((record) => [record.firstRunId, record.runId, record.runs, record.outcome])).toEqual([
      ['r3a', 'r3c', 3, 'waiting-for-operator'],
      ['r2', 'r2', 1, 'aborted'],
      ['r1', 'r1', 1, 'succeeded'],
    ]);
    expect(records[0].startedAt).toEqual(new Date(T0 + 400_000));
  });

  test('terminated rollout reads terminated', () => {
    expect(groupRuns([run('r1', 'TERMINATED', 0, 10, 'etcd')])[0].outcome).toBe('terminated');
  });

  test('table shows outcome, duration, counts', () => {
    const records: RolloutRecord[] = [
      { ...groupRuns([run('r2', 'FAILED', 200, 290, 'aborted')])[0], counts: { applied: 3, skipped: 9, repaired: 0, failed: 1 }, reason: 'rollout prod-east aborted: aborted by the operator' },
      { ...groupRuns([run('r1', 'COMPLETED', 0, 95, 'succeeded')])[0], counts: { applied: 25, skipped: 0, repaired: 0, failed: 0 } },
      groupRuns([run('r3', 'RUNNING', 300, undefined, 'etcd')])[0],
    ];
    const lines = renderHistory(records, T0 + 330_000);
    expect(lines[0]).toMatch(/^STARTED +OUTCOME +DURATION +APPLIED +SKIPPED +REPAIRED +FAILED +HOSTS FAILED +RUN ID$/);
    expect(lines[1]).toMatch(/^2026-01-01 10:03:20Z {2}aborted +1m30s +3 +9 +0 +1 +0 {2}r2$/);
    expect(lines[2]).toBe('  rollout prod-east aborted: aborted by the operator');
    expect(lines[3]).toMatch(/^2026-01-01 10:00:00Z {2}succeeded +1m35s +25 +0 +0 +0 +0 {2}r1$/);
    expect(lines[4]).toMatch(/^2026-01-01 10:05:00Z {2}etcd +30s so far +- +- +- +- +0 {2}r3$/);
  });

  test('query rejects a name outside the spec rules', () => {
    expect(historyQuery('prod-east')).toBe("KbootCluster = 'prod-east' AND WorkflowType = 'rolloutWorkflow'");
    expect(() => historyQuery("x' OR WorkflowType != '")).toThrow(InvalidClusterNameError);
  });
});
