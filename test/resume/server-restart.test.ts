/**
 * The Temporal server stopped and started again mid-rollout (same database): the rollout completes,
 * and a `kboot apply` attached to it before the outage follows it through.
 */
import { execFileSync } from 'node:child_process';
import { down, type UpResult } from '../../sandbox/fleet/index';
import { REPO_ROOT, runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { connectClient, freshFleet, readCounters, repeatedWork, waitForRollout } from '../helpers/rollout';

const FLEET = 'rsmsrv';
const HOSTS = ['master', 'node1', 'node2', 'node3'];
const PORT = (process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233').split(':')[1];

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('server') };

function devServer(action: 'start' | 'stop'): void {
  execFileSync('bash', [`${REPO_ROOT}/scripts/temporal-dev.sh`, action, '--port', PORT], { stdio: 'pipe', timeout: 120_000 });
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 4);
  worker = startWorker(env);
});

afterAll(async () => {
  await worker?.stop();
  if (process.env.KBOOT_KEEP_FLEET !== '1') await down(FLEET);
});

test('rollout survives a server restart', async () => {
  const started = await runKboot(['apply', '--no-wait', fleet.specFile], env);
  expect(started.code).toBe(0);
  const { client, close } = await connectClient();
  try {
    await waitForRollout(client, FLEET, (state) => state.gates['etcd-quorum']?.status === 'open');
  } finally {
    await close();
  }

  // apply attaches to the running rollout and follows it; the server then goes away under it.
  const following = runKboot(['apply', fleet.specFile], env);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  devServer('stop');
  await new Promise((resolve) => setTimeout(resolve, 5000));
  devServer('start');

  const result = await following;
  if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}\n${worker.output().slice(-3000)}`);
  expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  expect(repeatedWork(await readCounters(FLEET, HOSTS))).toEqual([]);
});
