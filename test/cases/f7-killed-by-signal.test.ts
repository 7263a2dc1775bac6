/**
 * A remote step whose shell is killed by a signal has no exit code: that is a failure naming the
 * signal, never a success. And a step that pkills a daemon by pattern does not kill itself, because
 * its script reaches the host on stdin, not on a command line the pattern could match.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { SshPool } from '../../activities/ssh/index';
import { runStep } from '../../activities/steps';
import { renderStep } from '../../plan/index';
import { parseSpec } from '../../client/spec-file';
import { readFileSync } from 'node:fs';
import { down, type UpResult } from '../../sandbox/fleet/index';
import { freshFleet } from '../helpers/rollout';
import { REPO_ROOT } from '../helpers/kboot';
import type { StepRendering } from '../../plan/types';

const FLEET = 'csf7';

jest.setTimeout(5 * 60_000);

let fleet: UpResult;
let pool: SshPool;

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 1);
  pool = new SshPool();
});

afterAll(async () => {
  await pool?.close();
  if (process.env.KBOOT_KEEP_FLEET !== '1') await down(FLEET);
});

function stepWith(apply: string): { rendering: StepRendering; input: Parameters<typeof runStep>[1] } {
  const { spec } = parseSpec(readFileSync(fleet.specFile, 'utf8'), fleet.specFile);
  const base = renderStep(spec, 'hosts-file', 'master');
  const rendering: StepRendering = { ...base, ensures: [{ description: 'restart flanneld by pattern', check: 'false', apply }] };
  return { rendering, input: { cluster: FLEET, rendering, ssh: spec.ssh, address: spec.hosts[0].address, kbootVersion: 'test' } };
}

test('shell killed by TERM fails naming it', async () => {
  const { input } = stepWith('kill -TERM $$');
  const env = new MockActivityEnvironment();
  await expect(env.run(runStep, pool, input)).rejects.toThrow(/hosts-file on master: killed by signal TERM/);
});

test('pkill by pattern spares the step', async () => {
  const { input } = stepWith('sleep 300 & pkill -f "sleep 300"; pkill -f flanneld; true');
  const env = new MockActivityEnvironment();
  const result = (await env.run(runStep, pool, input)) as Awaited<ReturnType<typeof runStep>>;
  expect(result.outcome).toBe('applied');
});
