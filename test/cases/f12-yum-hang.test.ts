/**
 * A yum install that hangs (held lock, dead mirror) is killed after packages.installTimeout, the
 * step is retried, and the retry first waits for any yum still running: two installs never run on
 * one host at once, and each package is installed once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { Client } from '@temporalio/client';
import { runKboot } from '../helpers/kboot';
import { connectClient, onHost, readCounters, repeatedWork, stepStatus, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'csf12';
const HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(10 * 60_000);

let specFile: string;
const sandbox = useSandboxRollout(FLEET, 4, async (fleet) => {
  const spec = parse(readFileSync(fleet.specFile, 'utf8'));
  spec.packages.installTimeout = '15s';
  specFile = `${fleet.specFile}.yum.yaml`;
  writeFileSync(specFile, stringify(spec));
  await onHost(FLEET, 'node3', 'mkdir -p /etc/kboot-sandbox && touch /etc/kboot-sandbox/yum-hang');
});

/** Last failures of the host run's pending activities: retries are not events in the history. */
async function activityFailures(client: Client, workflowId: string): Promise<string[]> {
  const description = await client.workflow.getHandle(workflowId).describe();
  return (description.raw.pendingActivities ?? []).map((activity) => activity.lastFailure?.message ?? '').filter(Boolean);
}

test('hung yum is killed and retried', async () => {
  const started = await runKboot(['apply', '--no-wait', specFile], sandbox.env);
  expect(started.code).toBe(0);
  const { client, close } = await connectClient();
  try {
    await waitForRollout(client, FLEET, (state) => stepStatus(state, 'node2', 'packages') === 'done' && stepStatus(state, 'node3', 'packages') === 'running');
    // The first attempt hangs until the timeout kills it.
    const deadline = Date.now() + 60_000;
    while ((await activityFailures(client, `kboot-${FLEET}-node3-preflight`).catch(() => [])).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const failures = await activityFailures(client, `kboot-${FLEET}-node3-preflight`);
    expect(failures[0]).toMatch(/yum install timed out after 15s and was killed/);
    expect(await onHost(FLEET, 'node3', 'pgrep -c -x yum || true')).toMatch(/^[01]\n$/);

    // The mirror comes back: the retry installs.
    await onHost(FLEET, 'node3', 'rm -f /etc/kboot-sandbox/yum-hang');
    const result = await runKboot(['apply', specFile], sandbox.env);
    if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  } finally {
    await close();
  }
  const counters = await readCounters(FLEET, HOSTS);
  expect(repeatedWork(counters)).toEqual([]);
  expect(counters.node3.install.docker).toBe(1);
});
