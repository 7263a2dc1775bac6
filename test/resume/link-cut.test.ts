/**
 * A node's network link cut for 30 s while its docker step runs: the step retries and completes,
 * docker starts once, and the other hosts go on unaffected.
 */
import { cutLink, restoreLink } from '../../sandbox/fleet/index';
import { runKboot } from '../helpers/kboot';
import { connectClient, readCounters, repeatedWork, slowDockerStart, stepStatus, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'rsmlink';
const HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(10 * 60_000);

const sandbox = useSandboxRollout(FLEET, 4, async () => {
  // docker on node3 takes 8 s to start, so the link can be cut while its step runs.
  await slowDockerStart(FLEET, 'node3', 8);
});

test('docker step survives a 30 s link cut', async () => {
  const started = await runKboot(['apply', '--no-wait', sandbox.fleet.specFile], sandbox.env);
  expect(started.code).toBe(0);
  const { client, close } = await connectClient();
  try {
    await waitForRollout(client, FLEET, (state) => stepStatus(state, 'node3', 'docker') === 'running');
    await cutLink(FLEET, 'node3');
    const during = await waitForRollout(client, FLEET, (state) => stepStatus(state, 'node1', 'docker') === 'done' && stepStatus(state, 'node2', 'docker') === 'done');
    expect(stepStatus(during, 'node3', 'docker')).toBe('running');
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    await restoreLink(FLEET, 'node3');
  } finally {
    await close();
  }

  const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}\n${sandbox.worker.output().slice(-3000)}`);
  expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  const counters = await readCounters(FLEET, HOSTS);
  expect(repeatedWork(counters)).toEqual([]);
  expect(counters.node3.start['docker.service']).toBe(1);
});
