/**
 * Workflow histories stay bounded at 200 hosts. The real rollout and host-run workflows run on a
 * stub host layer (activities return at once, no SSH): the test is about history size, not about
 * hosts. The continue-as-new threshold is lowered so the rollout goes through it several times.
 */
import type { RolloutResult } from '../../workflows/definitions';
import { buildPlan } from '../../plan/graph';
import { uniqueTaskQueue } from '../helpers/kboot';
import { hostRuns, rolloutRuns, startStubLayer, stubSpec, type RunHistory, type StubLayer } from './stub-hosts';

jest.setTimeout(15 * 60_000);

const HOSTS = 200;
const PARALLELISM = 50;
const EVENT_LIMIT = 1500;
/** The bounds workflows/rollout.ts documents for a rollout run past its limit, and for a host run. */
const DRAIN_BASE_EVENTS = 10;
const EVENTS_PER_RUNNING_TASK = 7;
const HOST_RUN_BASE_EVENTS = 5;
const EVENTS_PER_HOST_RUN_STEP = 6;
/** Keeps host runs in flight when a run passes its limit, so the drain is exercised. */
const STEP_DELAY_MS = 1000;

let layer: StubLayer;
let result: RolloutResult;
let runs: RunHistory[];
let children: RunHistory[];
const spec = stubSpec(`scale-${Date.now().toString(36)}`, HOSTS, { parallelism: PARALLELISM });

beforeAll(async () => {
  layer = await startStubLayer(uniqueTaskQueue('scale'), { stepDelayMs: STEP_DELAY_MS });
  const [{ handle, outcome }] = await layer.runRollouts([{ spec, kbootVersion: 'scale-test', continueAsNewEvents: EVENT_LIMIT }], 10 * 60_000);
  if (outcome.status === 'rejected') throw outcome.reason;
  result = outcome.value as RolloutResult;
  runs = await rolloutRuns(layer.client, handle.workflowId, handle.firstExecutionRunId);
  children = await hostRuns(layer.client, runs);
});

afterAll(async () => {
  await layer?.close();
});

/**
 * Returns how many events a run had when it began to drain: past EVENT_LIMIT, or at the first
 * workflow task for which the server suggested continue-as-new. Every child start carries the
 * whole spec, so at 200 hosts the history's size in bytes can reach the server's suggestion first.
 */
function drainStart(run: RunHistory): number {
  const suggested = run.events.findIndex((event) => event.workflowTaskStartedEventAttributes?.suggestContinueAsNew);
  return suggested >= 0 ? Math.min(suggested + 1, EVENT_LIMIT + 1) : EVENT_LIMIT + 1;
}

describe(`${HOSTS}-host rollout on the stub host layer`, () => {
  test('rollout succeeds with every host done', () => {
    expect(result.phase).toBe('succeeded');
    const notDone = Object.entries(result.hosts).filter(([, host]) => host.status !== 'done').map(([name]) => name);
    expect(notDone).toEqual([]);
    expect(Object.values(result.gates).map((gate) => gate?.status)).toEqual(['open', 'open', 'open', 'open']);
  });

  test('rollout continued as new several times', () => {
    expect(runs.length).toBeGreaterThanOrEqual(3);
  });

  test('every step ran exactly once across runs', () => {
    const plan = buildPlan(spec);
    const expected = Object.entries(plan.hostSteps).flatMap(([host, steps]) => steps.map((step) => `${step}@${host}`)).sort();
    const ran = layer.calls.filter((call) => call.kind === 'step').map((call) => `${call.name}@${call.host}`).sort();
    expect(ran).toEqual(expected);
    const gates = layer.calls.filter((call) => call.kind === 'gate').map((call) => call.name).sort();
    expect(gates).toEqual(['cluster-ready', 'control-plane', 'etcd-quorum', 'flannel-network']);
  });

  test('runs passed their limit with host runs in flight', () => {
    for (const run of runs.slice(0, -1)) {
      const before = run.events.slice(0, drainStart(run));
      const started = before.filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes).length;
      const ended = before.filter((event) => event.childWorkflowExecutionCompletedEventAttributes).length;
      expect(started - ended).toBeGreaterThanOrEqual(5);
    }
  });

  test('no rollout run exceeds its event bound', () => {
    const bound = EVENT_LIMIT + DRAIN_BASE_EVENTS + EVENTS_PER_RUNNING_TASK * PARALLELISM;
    const lengths = runs.map((run) => run.events.length);
    expect(lengths.filter((length) => length > bound)).toEqual([]);
    // A limit is what cut the runs: every run but the last went past the event threshold or the
    // server's history size suggestion.
    expect(runs.slice(0, -1).every((run) => run.events.length > drainStart(run))).toBe(true);
  });

  test('no host run exceeds its event bound', () => {
    expect(children.length).toBeGreaterThanOrEqual(HOSTS * 2);
    const tooLong = children.filter((child) => {
      const steps = child.events.filter((event) => event.activityTaskScheduledEventAttributes).length;
      return child.events.length > HOST_RUN_BASE_EVENTS + EVENTS_PER_HOST_RUN_STEP * steps;
    });
    expect(tooLong.map((child) => `${child.workflowId}: ${child.events.length} events`)).toEqual([]);
    // A host has at most 8 steps, so no host run can pass this whatever the fleet size.
    const longest = Math.max(...children.map((child) => child.events.length));
    expect(longest).toBeLessThanOrEqual(HOST_RUN_BASE_EVENTS + EVENTS_PER_HOST_RUN_STEP * 8);
  });
});
