/**
 * Watching a rollout on a 4-host sandbox fleet, as an operator does. While the rollout runs,
 * `kboot status --watch` draws in a real pseudo-terminal (tmux), on a pipe and as JSON. Headless
 * chromium then finds the rollout in Temporal's web UI by its KbootCluster search attribute and
 * waits for the host steps by their summaries. Last, `kboot history` lists it after a no-op re-run
 * and an aborted one.
 *
 * The hosts' links are throttled at the start of the first rollout so that it lasts long enough to
 * watch.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { buildPlan, GATES, quote, renderStep } from '../../plan/index';
import { parseSpec } from '../../client/spec-file';
import { hostProgress, readRollout, type RolloutSnapshot, type StatusDocument } from '../../client/progress';
import type { RolloutRecord } from '../../client/history';
import type { RolloutState } from '../../workflows/definitions';
import { splitIntoRuns } from '../../workflows/rollout';
import { down, startSshd, stopSshd, throttleLink, type UpResult } from '../../sandbox/fleet/index';
import { CLI, REPO_ROOT, runKboot, startWorker, uniqueTaskQueue, type CliResult, type WorkerProcess } from '../helpers/kboot';
import { connectClient, freshFleet } from '../helpers/rollout';
import { launchBrowser, type Browser } from './browser';
import { TmuxSession } from './tmux';

const FLEET = 'uiviews';
const HOSTS = ['master', 'node1', 'node2', 'node3'];
/** Link rate during the first rollout: slow enough that each step takes a second or more. */
const THROTTLE_KBIT = 48;
const UI_URL = (process.env.KBOOT_UI_URL ?? 'http://127.0.0.1:8233').replace(/\/$/, '');
const SCREENSHOT = resolve(REPO_ROOT, 'docs/web-ui.png');

jest.setTimeout(15 * 60_000);

const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('ui') };
const testStart = Date.now();
let fleet: UpResult;
let worker: WorkerProcess;
let client: Client;
let closeClient: () => Promise<void>;
let terminal: TmuxSession | undefined;
let browser: Browser | undefined;
let pipeWatch: Promise<CliResult>;
let jsonWatch: Promise<CliResult>;
let firstRunId: string | undefined;

const sleep = (ms: number): Promise<void> => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

function fleetSpec() {
  return parseSpec(readFileSync(fleet.specFile, 'utf8'), fleet.specFile).spec;
}

/** Returns the row of `host` in the host table of a progress view, which phase rows of the same name precede. */
function hostRow(rows: string[], host: string): string | undefined {
  const table = rows.slice(rows.findIndex((row) => row.startsWith('HOST ')) + 1);
  return table.find((row) => row.startsWith(`  ${host} `));
}

/** Splits a host row of the progress view into its columns: host, status, steps, elapsed, step. */
function parseHostRow(row: string): { host: string; status: string; steps: string; elapsed?: string; step?: string } {
  const [host, status, steps, ...rest] = row.trim().split(/\s{2,}/);
  const elapsed = rest.length > 0 && /^\d+(s|m\d\ds|h\d\dm)$/.test(rest[0]) ? rest.shift() : undefined;
  return { host, status, steps, elapsed, step: rest.join('  ').split(' ')[0] || undefined };
}

/**
 * Returns the stderr lines of a watch other than its notices about a query that failed for a
 * moment, which a busy worker causes and the watch rides out by asking again.
 */
function unexpectedStderr(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('waiting for Temporal: '));
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 4);
  for (const host of HOSTS) await throttleLink(FLEET, host, THROTTLE_KBIT);
  ({ client, close: closeClient } = await connectClient());
  worker = startWorker(env);
});

afterAll(async () => {
  terminal?.kill();
  await browser?.close();
  await worker?.stop();
  await closeClient?.();
  if (process.env.KBOOT_KEEP_FLEET !== '1') await down(FLEET);
});

describe('watching a rollout', () => {
  test('apply starts it without waiting', async () => {
    const result = await runKboot(['apply', fleet.specFile, '--no-wait'], env, 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`started the rollout of ${FLEET}: 4 hosts`);

    pipeWatch = runKboot(['status', FLEET, '--watch'], env, 600_000);
    jsonWatch = runKboot(['status', FLEET, '--watch', '--json'], env, 600_000);
    const command = [
      'env',
      ...Object.entries({ ...env, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' }).map(([key, value]) => quote(`${key}=${value}`)),
      quote(process.execPath),
      quote(CLI),
      'status',
      FLEET,
      '--watch',
    ].join(' ');
    // The pane stays open after kboot exits, so the test can read its last frame and exit code.
    terminal = TmuxSession.start(`kboot-ui-${process.pid}`, 'watch', `${command}; echo "kboot exited $?"; sleep 600`, { columns: 160, rows: 50 }, { ...process.env, ...env });
  });

  test('terminal view shows each host step', async () => {
    const seen: Array<{ at: number; state: RolloutState }> = [];
    let consistent: string[] | undefined;
    let last: { rows: string[]; problems: string[] } | undefined;
    const deadline = Date.now() + 180_000;

    // Each capture is compared with the states this test read during the previous few seconds,
    // because the view redraws about once a second and a step can start or end in between.
    while (!consistent && Date.now() < deadline) {
      let snapshot: RolloutSnapshot;
      try {
        snapshot = await readRollout(client, FLEET);
      } catch (error) {
        // A host run that just ended can fail its query once, and the next read returns its result.
        last = { rows: [], problems: [`reading the rollout failed: ${(error as Error).message}`] };
        await sleep(300);
        continue;
      }
      if (snapshot.state) seen.push({ at: Date.now(), state: snapshot.state });
      if (snapshot.execution !== 'RUNNING') break;
      const rows = terminal!.capture();
      const recent = seen.filter((entry) => entry.at > Date.now() - 5_000);
      const problems: string[] = [];
      if (!rows.some((row) => row.startsWith(`rollout ${FLEET}: running, `))) problems.push('no header row for the running rollout');
      let running = 0;
      for (const host of HOSTS) {
        const row = hostRow(rows, host);
        if (!row) {
          problems.push(`no row for ${host}`);
          continue;
        }
        const shown = parseHostRow(row);
        if (!shown.step) problems.push(`${host} shows no current step: ${row}`);
        const matches = recent.some((entry) => {
          const progress = hostProgress(entry.state.hosts[host], entry.state.gates);
          return progress.status === shown.status && progress.step === shown.step && `${progress.stepsDone}/${progress.stepsTotal}` === shown.steps;
        });
        if (!matches) problems.push(`${host} row matches no state read in the last 5 s: ${row}`);
        if (shown.status === 'running') {
          running++;
          if (!shown.elapsed) problems.push(`${host} runs a step but shows no elapsed time: ${row}`);
        }
      }
      if (running === 0) problems.push('no host is running a step');
      if (problems.length === 0) consistent = rows;
      last = { rows, problems };
      await sleep(300);
    }

    // The rest of the rollout needs no watching at a slow pace.
    for (const host of HOSTS) await throttleLink(FLEET, host, 0);

    if (!consistent) throw new Error(`no terminal frame showed every host's current step mid-rollout; last problems:\n${last?.problems.join('\n')}\nlast frame:\n${last?.rows.join('\n')}`);
    expect(consistent).toContain('GATE');
    expect(consistent.find((row) => row.startsWith('PHASE'))).toMatch(/^PHASE +PROGRESS +DONE +ELAPSED$/);
    expect(consistent.find((row) => row.startsWith('  preflight '))).toMatch(/^ {2}preflight +\[[#.]{20}\] +\d\/4 /);
    expect(consistent.find((row) => row.startsWith('HOST'))).toMatch(/^HOST +STATUS +STEPS +ELAPSED +STEP$/);
  });

  test('terminal view ends with the rollout', async () => {
    const deadline = Date.now() + 300_000;
    let rows = terminal!.capture();
    while (!rows.some((row) => row.startsWith('kboot exited')) && Date.now() < deadline) {
      await sleep(1000);
      rows = terminal!.capture();
    }
    expect(rows).toContain('kboot exited 0');
    expect(rows.find((row) => row.startsWith(`rollout ${FLEET}:`))).toMatch(new RegExp(`^rollout ${FLEET}: succeeded, `));
    for (const host of HOSTS) expect(parseHostRow(hostRow(rows, host) ?? '').status).toBe('done');
    expect(rows).toContain(`workflow kboot-${FLEET}: COMPLETED`);
    // log-update redraws in place, so the last frame appears once, not once per second.
    expect(rows.filter((row) => row.startsWith(`rollout ${FLEET}:`))).toHaveLength(1);
    firstRunId = (await readRollout(client, FLEET)).runId;
  });

  test('pipe gets plain lines in order', async () => {
    const result = await pipeWatch;
    expect(unexpectedStderr(result)).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('\x1b');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`following rollout ${FLEET} (workflow kboot-${FLEET}): running`);
    for (const [host, steps] of Object.entries(buildPlan(fleetSpec()).hostSteps)) {
      for (const step of steps) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${host}: ${step} applied in \\d+s$`)));
    }
    const quorumOpen = lines.indexOf('gate etcd-quorum: open');
    const masterApplied = lines.findIndex((line) => /^master: master applied in \d+s$/.test(line));
    expect(quorumOpen).toBeGreaterThan(0);
    expect(masterApplied).toBeGreaterThan(quorumOpen);
    expect(lines).toContain('gate cluster-ready: open');
    expect(lines.slice(-3)).toEqual(['rollout: succeeded', `workflow kboot-${FLEET}: COMPLETED`, `web UI: ${UI_URL}/namespaces/default/workflows/kboot-${FLEET}`]);
  });

  test('json watch prints one document per change', async () => {
    const result = await jsonWatch;
    expect(unexpectedStderr(result)).toEqual([]);
    expect(result.code).toBe(0);
    const documents = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as StatusDocument);
    expect(documents.length).toBeGreaterThan(3);
    expect(documents[0].execution).toBe('RUNNING');
    expect(documents[documents.length - 1].execution).toBe('COMPLETED');
    expect(documents[documents.length - 1].progress?.phase).toBe('succeeded');
    const runningStep = documents.some((document) => Object.values(document.progress?.hosts ?? {}).some((host) => host.status === 'running' && host.step));
    expect(runningStep).toBe(true);
    const states = documents.map((document) => JSON.stringify([document.execution, document.state]));
    for (let index = 1; index < states.length; index++) expect(states[index]).not.toBe(states[index - 1]);
    const times = documents.map((document) => Date.parse(document.observedAt));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  test('status --json sums the plan', async () => {
    const result = await runKboot(['status', FLEET, '--json'], env, 60_000);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as StatusDocument;
    expect(document.execution).toBe('COMPLETED');
    expect(document.workflowId).toBe(`kboot-${FLEET}`);
    const phases = document.progress!.phases;
    expect(phases.reduce((sum, phase) => sum + phase.total, 0)).toBe(buildPlan(fleetSpec()).tasks.length);
    expect(phases.every((phase) => phase.done === phase.total)).toBe(true);
    for (const host of HOSTS) {
      const progress = document.progress!.hosts[host];
      expect([host, progress.status, progress.stepsDone]).toEqual([host, 'done', progress.stepsTotal]);
    }
  });

  test('status prints the table on a pipe', async () => {
    const result = await runKboot(['status', FLEET], env, 60_000);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^rollout ${FLEET}: succeeded, `));
    for (const host of HOSTS) expect(hostRow(lines, host)).toMatch(new RegExp(`^ {2}${host} +done +(\\d)/\\1 +\\d`));
    expect(lines).toContain(`workflow kboot-${FLEET}: COMPLETED`);
  });
});

describe('web UI', () => {
  test('finds rollout by cluster, shows host steps', async () => {
    expect(firstRunId).toBeDefined();
    const spec = fleetSpec();
    const plan = buildPlan(spec);
    browser = await launchBrowser({ width: 1500, height: 1300 });
    const { page } = browser;

    const query = `KbootCluster="${FLEET}"`;
    await page.goto(`${UI_URL}/namespaces/default/workflows?query=${encodeURIComponent(query)}`, { timeout: 60_000 });
    const link = page.locator(`a[href$="/workflows/kboot-${FLEET}/${firstRunId}/history"]`).first();
    await link.waitFor({ timeout: 60_000 });
    // Host runs carry no KbootCluster, so the search lists rollouts only.
    const listed = await page.locator('a[href*="/workflows/kboot-"]').evaluateAll((links) => links.map((element) => element.getAttribute('href') ?? ''));
    expect(listed.length).toBeGreaterThan(0);
    for (const href of listed) expect(href).toMatch(new RegExp(`^/namespaces/default/workflows/kboot-${FLEET}/[0-9a-f-]+/history$`));

    await link.click();
    await page.waitForURL(`**/workflows/kboot-${FLEET}/${firstRunId}/history`, { timeout: 60_000 });
    for (const [host, steps] of Object.entries(plan.hostSteps)) {
      for (const run of splitIntoRuns(steps)) await page.getByText(`${host}: ${run.join(', ')}`, { exact: true }).first().waitFor({ timeout: 30_000 });
    }
    for (const task of plan.tasks) {
      if (task.ref.kind === 'gate') await page.getByText(`${task.runsOn}: ${GATES[task.ref.gate].title}`).first().waitFor({ timeout: 30_000 });
    }

    // Oldest first, the timeline reads in the order of the plan.
    const order = page.getByRole('button', { name: 'Descending' });
    if ((await order.count()) > 0) await order.first().click();
    await page.getByRole('button', { name: 'Ascending' }).first().waitFor({ timeout: 10_000 });
    // The timeline scrolls inside a box of fixed height: grow the box and the window to fit it, so
    // the picture shows every host run and gate check.
    const firstRun = page.getByText(`master: ${splitIntoRuns(plan.hostSteps.master)[0].join(', ')}`, { exact: true }).first();
    const growTimeline = (): Promise<number> =>
      firstRun.evaluate((text) => {
        let box = text.parentElement;
        while (box && getComputedStyle(box).overflowY !== 'auto') box = box.parentElement;
        if (!box) throw new Error('no scrolling box around the timeline');
        box.style.height = `${box.scrollHeight + 2}px`;
        box.style.maxHeight = 'none';
        return box.getBoundingClientRect().bottom;
      });
    await page.setViewportSize({ width: 1500, height: Math.ceil((await growTimeline()) + 40) });
    const bottom = await growTimeline();
    mkdirSync(resolve(REPO_ROOT, 'docs'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, clip: { x: 60, y: 50, width: 1440, height: Math.ceil(bottom + 20 - 50) } });

    // A host run lists its steps by their titles, as the planner renders them.
    await page.goto(`${UI_URL}/namespaces/default/workflows/kboot-${FLEET}-node1-preflight`, { timeout: 60_000 });
    for (const step of splitIntoRuns(plan.hostSteps.node1)[0]) {
      await page.getByText(`node1: ${renderStep(spec, step, 'node1').title}`, { exact: true }).first().waitFor({ timeout: 30_000 });
    }

    const external = browser.requests.filter((url) => /^(https?|wss?):/.test(url) && new URL(url).hostname !== '127.0.0.1');
    expect(external).toEqual([]);
  });
});

describe('history', () => {
  const records = async (args: string[] = []): Promise<RolloutRecord[]> => {
    const result = await runKboot(['history', FLEET, '--json', ...args], env, 60_000);
    expect(result.code).toBe(0);
    return (JSON.parse(result.stdout) as RolloutRecord[]).filter((record) => Date.parse(String(record.startedAt)) >= testStart);
  };

  test('second apply skips every step', async () => {
    const result = await runKboot(['apply', fleet.specFile], env, 300_000);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`rollout ${FLEET} succeeded: 0 steps applied, 25 already done`));
  });

  test('aborted rollout after a failed host', async () => {
    await stopSshd(FLEET, 'node3');
    // The worker's pooled SSH connection to node3 outlives sshd, so a new worker has to connect.
    await worker.stop();
    worker = startWorker(env);
    try {
      const apply = await runKboot(['apply', fleet.specFile], env, 300_000);
      expect(apply.code).toBe(4);
      expect(apply.stderr).toContain(`rollout ${FLEET} waits for the operator:`);
      expect(apply.stderr).toMatch(/ {2}node3: preflight failed: /);

      const status = await runKboot(['status', FLEET], env, 60_000);
      expect(status.code).toBe(4);
      expect(status.stdout).toMatch(/^ {2}node3 +failed +0\/6 +preflight \(Preflight checks\) failed: preflight on node3: connect to node3 .*: connection refused/m);

      const abort = await runKboot(['abort', FLEET], env, 60_000);
      expect(abort.code).toBe(0);
      const deadline = Date.now() + 120_000;
      let execution = 'RUNNING';
      while (execution === 'RUNNING' && Date.now() < deadline) {
        await sleep(500);
        execution = (await readRollout(client, FLEET)).execution;
      }
      expect(execution).toBe('FAILED');
    } finally {
      await startSshd(FLEET, 'node3');
    }
  });

  test('lists rollouts with outcome and counts', async () => {
    const listed = await records();
    expect(listed.map((record) => record.outcome)).toEqual(['aborted', 'succeeded', 'succeeded']);
    const [aborted, noop, first] = listed;
    expect(first.runId).toBe(firstRunId);
    expect(first.counts).toEqual({ applied: 25, skipped: 0, repaired: 0, failed: 0 });
    expect(noop.counts).toEqual({ applied: 0, skipped: 25, repaired: 0, failed: 0 });
    expect(aborted.failedHosts).toBe(1);
    expect(aborted.counts?.failed).toBe(1);
    expect(aborted.reason).toBe(`rollout ${FLEET} aborted: aborted by the operator`);
    for (const record of listed) {
      expect(record.runs).toBe(1);
      expect(Date.parse(String(record.closedAt))).toBeGreaterThan(Date.parse(String(record.startedAt)));
    }
  });

  test('table shows outcome and duration', async () => {
    const result = await runKboot(['history', FLEET], env, 60_000);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STARTED +OUTCOME +DURATION +APPLIED +SKIPPED +REPAIRED +FAILED +HOSTS FAILED +RUN ID$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}aborted +\d+(s|m\d\ds) +0 +\d+ +0 +1 +1 {2}[0-9a-f-]{36}$/);
    expect(lines[2]).toBe(`  rollout ${FLEET} aborted: aborted by the operator`);
    expect(lines[3]).toMatch(/^\S+ \S+ {2}succeeded +\d+(s|m\d\ds) +0 +25 +0 +0 +0 {2}[0-9a-f-]{36}$/);
    expect(lines[lines.length - 1]).toBe(`web UI: ${UI_URL}/namespaces/default/workflows/kboot-${FLEET}`);
  });

  test('limit keeps the newest', async () => {
    const result = await runKboot(['history', FLEET, '--json', '--limit', '1'], env, 60_000);
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as RolloutRecord[];
    expect(listed).toHaveLength(1);
    expect(listed[0].outcome).toBe('aborted');
  });

  test('invalid name or limit exits 2', async () => {
    const name = await runKboot(['history', 'Not_A_Cluster'], env, 60_000);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain('invalid cluster name "Not_A_Cluster"');
    const limit = await runKboot(['history', FLEET, '--limit', '0'], env, 60_000);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toBe('error: invalid --limit 0: use a whole number from 1 to 1000\n');
  });
});
