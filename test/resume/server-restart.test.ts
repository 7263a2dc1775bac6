/**
 * The Temporal server stopped and started again mid-rollout (same database): the rollout completes,
 * and a `kboot apply` attached to it before the outage follows it through.
 */
import { execFileSync } from 'node:child_process';
import { REPO_ROOT, runKboot, spawnKboot } from '../helpers/kboot';
import { connectClient, readCounters, repeatedWork, slowDockerStart, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'rsmsrv';
const HOSTS = ['master', 'node1', 'node2', 'node3'];
const PORT = (process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233').split(':')[1];

jest.setTimeout(10 * 60_000);

// docker on node3 takes 20 s to start, so the rollout is still running when the server goes away.
const sandbox = useSandboxRollout(FLEET, 4, async () => {
  await slowDockerStart(FLEET, 'node3', 20);
});

function devServer(action: 'start' | 'stop'): void {
  execFileSync('bash', [`${REPO_ROOT}/scripts/temporal-dev.sh`, action, '--port', PORT], { stdio: 'pipe', timeout: 120_000 });
}

test('rollout survives a server restart', async () => {
  const started = await runKboot(['apply', '--no-wait', sandbox.fleet.specFile], sandbox.env);
  expect(started.code).toBe(0);
  const { client, close } = await connectClient();
  try {
    await waitForRollout(client, FLEET, (state) => state.gates['etcd-quorum']?.status === 'open');
  } finally {
    await close();
  }

  // apply attaches to the running rollout and follows it; the server then goes away under it.
  const following = spawnKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  for (let waited = 0; !following.stdout().includes('web UI:') && waited < 60_000; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(following.stdout()).toContain('attached to the rollout');
  devServer('stop');
  await new Promise((resolve) => setTimeout(resolve, 5000));
  devServer('start');

  const result = await following.done;
  if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}\n${sandbox.worker.output().slice(-3000)}`);
  expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  expect(repeatedWork(await readCounters(FLEET, HOSTS))).toEqual([]);
});
