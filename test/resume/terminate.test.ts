/**
 * The rollout workflow terminated mid-rollout (a lost workflow), then `kboot apply` again: a new
 * rollout re-checks every step on its host and skips the ones that had completed.
 */
import { runKboot } from '../helpers/kboot';
import { connectClient, readCounters, repeatedWork, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'rsmterm';
const HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(10 * 60_000);

const sandbox = useSandboxRollout(FLEET, 4);

test('apply after terminate skips completed steps', async () => {
  const { client, close } = await connectClient();
  let doneBefore = 0;
  try {
    const started = await runKboot(['apply', '--no-wait', sandbox.fleet.specFile], sandbox.env);
    expect(started.code).toBe(0);
    const state = await waitForRollout(client, FLEET, (current) => current.gates['etcd-quorum']?.status === 'open');
    await client.workflow.getHandle(`kboot-${FLEET}`).terminate('test: terminated mid-rollout');
    const steps = Object.values(state.hosts).flatMap((host) => Object.values(host.steps));
    doneBefore = steps.filter((step) => step?.status === 'done').length;
    expect(doneBefore).toBeGreaterThanOrEqual(12);
  } finally {
    await close();
  }

  const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  const summary = /(\d+) steps? applied, (\d+) already done \(skipped\), (\d+) repaired after drift, 0 failed/.exec(result.stdout);
  expect(summary).not.toBeNull();
  const [, applied, skipped, repaired] = (summary as RegExpExecArray).map(Number);
  expect(repaired).toBe(0);
  expect(applied + skipped).toBe(25);
  // Steps that finished before the terminate, or were finishing during it, are all skipped now.
  expect(skipped).toBeGreaterThanOrEqual(doneBefore);
  expect(repeatedWork(await readCounters(FLEET, HOSTS))).toEqual([]);
});
