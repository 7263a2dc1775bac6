/**
 * Rolling batches (rollout.batchSize), checked on the stub host layer: the real rollout workflow,
 * with steps that take a fixed time and touch no host, so the order in which steps start is exact.
 */
import type { ClusterSpec } from '../../plan/spec';
import { buildPlan } from '../../plan/graph';
import { rolloutBatches } from '../../workflows/rollout';
import { uniqueTaskQueue } from '../helpers/kboot';
import { startStubLayer, stubSpec, type StubCall, type StubLayer, type StubRollout } from './stub-hosts';

jest.setTimeout(10 * 60_000);

const suffix = Date.now().toString(36);
const oneByOne = stubSpec(`batch-one-${suffix}`, 6, { batchSize: 1, parallelism: 6 });
const byThree = stubSpec(`batch-three-${suffix}`, 9, { batchSize: 3, parallelism: 9 });
const byPercent = stubSpec(`batch-pct-${suffix}`, 10, { batchSize: '30%', parallelism: 10 });

let layer: StubLayer;
let rollouts: StubRollout[];

function stepCalls(spec: ClusterSpec): StubCall[] {
  return layer.calls.filter((call) => call.kind === 'step' && call.cluster === spec.name);
}

function firstStart(spec: ClusterSpec, hosts: string[]): number {
  return Math.min(...stepCalls(spec).filter((call) => hosts.includes(call.host)).map((call) => call.at));
}

function lastEnd(spec: ClusterSpec, hosts: string[]): number {
  return Math.max(...stepCalls(spec).filter((call) => hosts.includes(call.host)).map((call) => call.end));
}

function stepCall(spec: ClusterSpec, host: string, step: string): StubCall {
  const call = stepCalls(spec).find((candidate) => candidate.host === host && candidate.name === step);
  if (!call) throw new Error(`${spec.name}: step ${step} on ${host} never ran`);
  return call;
}

beforeAll(async () => {
  layer = await startStubLayer(uniqueTaskQueue('batches'), { stepDelayMs: 100 });
  rollouts = await layer.runRollouts(
    [oneByOne, byThree, byPercent].map((spec) => ({ spec, kbootVersion: 'batch-test' })),
    5 * 60_000,
  );
});

afterAll(async () => {
  await layer?.close();
});

describe('rolloutBatches', () => {
  test('count cuts hosts in spec order', () => {
    expect(rolloutBatches(stubSpec('b', 5, { batchSize: 2 }))).toEqual([['master', 'node1'], ['node2', 'node3'], ['node4']]);
  });

  test('percentage rounds down', () => {
    expect(rolloutBatches(byPercent).map((batch) => batch.length)).toEqual([3, 3, 3, 1]);
  });

  test('small percentage keeps one host', () => {
    expect(rolloutBatches(stubSpec('b', 5, { batchSize: '10%' })).map((batch) => batch.length)).toEqual([1, 1, 1, 1, 1]);
  });

  test('default is one batch', () => {
    expect(rolloutBatches(stubSpec('b', 5, {}))).toHaveLength(1);
    expect(rolloutBatches(stubSpec('b', 5, { batchSize: 50 }))).toHaveLength(1);
  });

  test('spec without batchSize is one batch', () => {
    const older = stubSpec('b', 5, {});
    const rollout: Partial<ClusterSpec['rollout']> = { ...older.rollout };
    delete rollout.batchSize;
    expect(rolloutBatches({ ...older, rollout: rollout as ClusterSpec['rollout'] })).toHaveLength(1);
  });
});

describe('rollouts in batches on the stub host layer', () => {
  test('every rollout succeeds', () => {
    const failures = rollouts.filter((rollout) => rollout.outcome.status === 'rejected').map((rollout) => `${rollout.handle.workflowId}: ${String((rollout.outcome as PromiseRejectedResult).reason)}`);
    expect(failures).toEqual([]);
  });

  test.each([oneByOne, byThree, byPercent])('every step of $name ran once', (spec) => {
    const plan = buildPlan(spec);
    const expected = Object.entries(plan.hostSteps).flatMap(([host, steps]) => steps.map((step) => `${step}@${host}`)).sort();
    expect(stepCalls(spec).map((call) => `${call.name}@${call.host}`).sort()).toEqual(expected);
  });

  test.each([byThree, byPercent])('$name starts a batch after the one before ends', (spec) => {
    const batches = rolloutBatches(spec);
    for (let index = 1; index < batches.length; index++) {
      const earlier = batches.slice(0, index).flat();
      expect([`batch ${index}`, firstStart(spec, batches[index]) >= lastEnd(spec, earlier)]).toEqual([`batch ${index}`, true]);
    }
  });

  test('host parked at etcd quorum lets the next batch start', () => {
    // master waits at the etcd quorum gate for node1 and node2, which are in later batches.
    expect(firstStart(oneByOne, ['node1'])).toBeGreaterThanOrEqual(stepCall(oneByOne, 'master', 'etcd').end);
    expect(firstStart(oneByOne, ['node2'])).toBeGreaterThanOrEqual(stepCall(oneByOne, 'node1', 'etcd').end);
  });

  test('hosts after the etcd members wait for them to finish', () => {
    expect(firstStart(oneByOne, ['node3'])).toBeGreaterThanOrEqual(lastEnd(oneByOne, ['master', 'node1', 'node2']));
    expect(firstStart(oneByOne, ['node4'])).toBeGreaterThanOrEqual(lastEnd(oneByOne, ['node3']));
    expect(firstStart(oneByOne, ['node5'])).toBeGreaterThanOrEqual(lastEnd(oneByOne, ['node4']));
  });
});
