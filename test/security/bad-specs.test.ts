/**
 * The corpus of bad specs under test/fixtures/bad-specs, each run through the built CLI with
 * `kboot validate` and `kboot apply`. Each must end with exit code 2 and exactly the one-line error
 * in its sibling .expected file ({file} is the path given to kboot, {dir} the corpus folder), and
 * no rollout may exist in Temporal for any of them afterwards.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { runKboot, uniqueTaskQueue, REPO_ROOT } from '../helpers/kboot';
import { clusterExecutions, withTemporal } from './temporal';

const CORPUS = resolve(REPO_ROOT, 'test/fixtures/bad-specs');
const VALID_SPEC = join(CORPUS, 'files/valid.yaml');
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('badspecs') };
/** CLI processes at once: enough to keep the run short on two cores. */
const CONCURRENCY = 4;

jest.setTimeout(5 * 60_000);

interface BadSpec {
  file: string;
  expected: string;
  /** The cluster name as written, when the file has a plain `name:` line. */
  cluster?: string;
}

const corpus: BadSpec[] = readdirSync(CORPUS)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => {
    const file = join(CORPUS, name);
    const text = readFileSync(join(CORPUS, name), 'utf8');
    const expected = readFileSync(join(CORPUS, name.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd();
    return { file, expected: expected.replaceAll('{file}', file).replaceAll('{dir}', CORPUS), cluster: /^name: (\S+)$/m.exec(text)?.[1] };
  });

type Outcome = Awaited<ReturnType<typeof runKboot>>;

async function runAll(command: 'validate' | 'apply'): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const queue = [...corpus];
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      outcomes.set(entry.file, await runKboot([command, entry.file], env, 60_000));
    }
  });
  await Promise.all(workers);
  return outcomes;
}

describe('bad spec corpus', () => {
  let validated: Map<string, Outcome>;
  let applied: Map<string, Outcome>;

  beforeAll(async () => {
    validated = await runAll('validate');
    applied = await runAll('apply');
  });

  test('corpus has at least 30 specs', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    expect(new Set(corpus.map((entry) => entry.expected)).size).toBeGreaterThanOrEqual(30);
  });

  test('valid control spec passes', async () => {
    const result = await runKboot(['validate', VALID_SPEC], env, 60_000);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  test.each(corpus.map((entry) => [basename(entry.file), entry]))('validate %s', (_file, entry) => {
    const result = validated.get(entry.file) as Outcome;
    expect(result.stderr.trimEnd()).toBe(`error: ${entry.expected}`);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });

  test.each(corpus.map((entry) => [basename(entry.file), entry]))('apply %s', (_file, entry) => {
    const result = applied.get(entry.file) as Outcome;
    expect(result.stderr.trimEnd()).toBe(`error: ${entry.expected}`);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });

  test('no rollout was started', async () => {
    const started = await withTemporal(async (client) => {
      const found: string[] = [];
      for (const entry of corpus) {
        if (entry.cluster !== undefined) found.push(...(await clusterExecutions(client, entry.cluster)).map((execution) => execution.workflowId));
      }
      for await (const execution of client.workflow.list({ query: `WorkflowId STARTS_WITH 'kboot-bad-'` })) found.push(execution.workflowId);
      return found;
    });

    expect(corpus.filter((entry) => entry.cluster !== undefined).length).toBeGreaterThanOrEqual(corpus.length - 3);
    expect(started).toEqual([]);
  });

  test('valid control spec starts a rollout', async () => {
    // The same query finds a rollout that apply did start, so an empty result above means none.
    const result = await runKboot(['apply', '--no-wait', VALID_SPEC], env, 60_000);
    expect(result.code).toBe(0);

    const ids = await withTemporal(async (client) => {
      // Visibility lags the start by a moment: ask for up to 10 s.
      let executions = await clusterExecutions(client, 'good-00');
      for (let attempt = 0; attempt < 20 && executions.length === 0; attempt++) {
        await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
        executions = await clusterExecutions(client, 'good-00');
      }
      await client.workflow.getHandle('kboot-good-00').terminate('bad spec corpus control: no worker serves it');
      return executions.map((execution) => execution.workflowId);
    });
    expect(ids).toContain('kboot-good-00');
  });
});
