/**
 * A node whose sshd is gone for good parks failed while the master and the other nodes finish their
 * branches; `kboot status` names the host, the step and the error; once sshd is back, `kboot retry`
 * finishes the node from its failed step. A node added later that never comes up is skipped, and
 * the rollout ends without waiting for it to register.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startSshd, stopSshd } from '../../sandbox/fleet/index';
import type { RolloutResult } from '../../workflows/definitions';
import { runKboot } from '../helpers/kboot';
import { connectClient, readCounters, repeatedWork, stepStatus, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const FLEET = 'rsmop';
const HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(15 * 60_000);

// node4 stays out of the first spec, so it can join later as a node that never registered.
const sandbox = useSandboxRollout(FLEET, 5, async (fleet) => {
  const document = parse(readFileSync(fleet.specFile, 'utf8')) as { hosts: Array<{ name: string }> };
  document.hosts = document.hosts.filter((host) => host.name !== 'node4');
  writeFileSync(firstSpec(fleet.specFile), stringify(document));
});

function firstSpec(specFile: string): string {
  return join(dirname(specFile), 'four-hosts.yaml');
}

describe('operator hand', () => {
  test('dead sshd parks its node only', async () => {
    await stopSshd(FLEET, 'node3');
    const result = await runKboot(['apply', firstSpec(sandbox.fleet.specFile)], sandbox.env);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`rollout ${FLEET} waits for the operator`);
    expect(result.stderr).toMatch(/node3: preflight failed: .*connect to node3 \(198\.18\.\d+\.\d+:22\)/);

    const status = await runKboot(['status', FLEET], sandbox.env);
    expect(status.code).toBe(4);
    expect(status.stdout).toMatch(/node3\s+failed\b.*preflight.*connect to node3 \(198\.18\.\d+\.\d+:22\): connection refused/);
    for (const host of ['master', 'node1', 'node2']) expect(status.stdout).toMatch(new RegExp(`${host}\\s+done`));

    const { client, close } = await connectClient();
    try {
      const state = await waitForRollout(client, FLEET, (current) => current.phase === 'waiting-for-operator');
      expect(stepStatus(state, 'node1', 'node')).toBe('done');
      expect(stepStatus(state, 'node2', 'node')).toBe('done');
      expect(stepStatus(state, 'master', 'master')).toBe('done');
      expect(state.gates['cluster-ready']?.status).toBe('pending');
    } finally {
      await close();
    }
  });

  test('retry finishes the node', async () => {
    await startSshd(FLEET, 'node3');
    const retry = await runKboot(['retry', FLEET, 'node3'], sandbox.env);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain('host node3 resumes at step preflight');

    const result = await runKboot(['apply', firstSpec(sandbox.fleet.specFile)], sandbox.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
    expect(repeatedWork(await readCounters(FLEET, HOSTS))).toEqual([]);
  });

  test('retry of a healthy host is rejected', async () => {
    const retry = await runKboot(['retry', FLEET, 'node1'], sandbox.env);
    expect(retry.code).toBe(1);
  });

  test('skipped node is not awaited', async () => {
    await stopSshd(FLEET, 'node4');
    const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/node4: preflight failed: .*connect to node4/);

    const skip = await runKboot(['skip', FLEET, 'node4'], sandbox.env);
    expect(skip.code).toBe(0);
    const { client, close } = await connectClient();
    try {
      const outcome = (await client.workflow.getHandle(`kboot-${FLEET}`).result()) as RolloutResult;
      expect(outcome.phase).toBe('succeeded');
      expect(outcome.gates['cluster-ready']?.status).toBe('open');
      expect(outcome.hosts.node4.status).toBe('skipped');
      // The gate's own summary, as the worker returned it, names the node it left out.
      const results = ((await client.workflow.getHandle(`kboot-${FLEET}`).fetchHistory()).events ?? []).flatMap((event) =>
        (event.activityTaskCompletedEventAttributes?.result?.payloads ?? []).map((payload) => Buffer.from(payload.data ?? []).toString('utf8')),
      );
      expect(results.filter((text) => text.includes('nodes registered and Ready'))).toEqual([
        expect.stringContaining('3/3 nodes registered and Ready; not checked, skipped by the operator: node4'),
      ]);
    } finally {
      await close();
    }
    const status = await runKboot(['status', FLEET], sandbox.env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/node4\s+skipped/);
    expect(status.stdout).toMatch(/cluster-ready\s+open\s.*3\/3 nodes registered and Ready; not checked, skipped by the operator: node4/);
  });
});
