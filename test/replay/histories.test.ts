/**
 * Replays saved rollout histories (finished, and parked waiting for the operator) against the
 * workflow code the worker runs, so a change that would break running rollouts fails here first.
 * Regenerate the fixtures with scripts/save-histories.sh after an intended, patched change.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../helpers/kboot';

const FIXTURES = resolve(REPO_ROOT, 'test/fixtures/histories');
const VARIANTS = resolve(REPO_ROOT, 'test/fixtures/workflow-variants');
const files = readdirSync(FIXTURES).filter((file) => file.endsWith('.json')).sort();

/** Runs the replay tool as a worker deploy check would; jest's module registry breaks Temporal's protobufs in-process. */
function replay(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [resolve(REPO_ROOT, 'dist/worker/replay.js'), ...args], { encoding: 'utf8', timeout: 180_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('fixtures cover parked and finished rollouts', () => {
  expect(files).toContain('parked-kboot-dev.json');
  expect(files).toContain('finished-kboot-dev.json');
  // Recorded after the host-runs-start-together patch, so both sides of it replay.
  expect(files).toContain('together-kboot-dev.json');
  expect(files.filter((file) => /-(preflight|flanneld|node|master)\.json$/.test(file)).length).toBeGreaterThan(8);
});

test('every history replays on current code', () => {
  const result = replay(files.map((file) => join(FIXTURES, file)));
  expect(result.stderr).toBe('');
  expect(result.stdout.match(/^replayed /gm)).toHaveLength(files.length);
  expect(result.status).toBe(0);
});

describe('workflow change before flannel', () => {
  const flanneldRuns = files.filter((file) => file.endsWith('-flanneld.json')).map((file) => join(FIXTURES, file));

  test('unguarded change is caught', () => {
    const result = replay(['--workflows', join(VARIANTS, 'extra-step-unguarded.ts'), ...flanneldRuns]);
    expect(result.status).toBe(1);
    expect(result.stdout.match(/^cannot replay .*DeterminismViolationError/gm)).toHaveLength(flanneldRuns.length);
  });

  test('patched change replays', () => {
    const result = replay(['--workflows', join(VARIANTS, 'extra-step-patched.ts'), ...flanneldRuns]);
    expect(result.stdout).not.toContain('cannot replay');
    expect(result.status).toBe(0);
  });
});
