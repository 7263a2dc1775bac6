#!/usr/bin/env node
/**
 * The kboot command line. Exit codes:
 *   0  success
 *   1  the rollout failed or was aborted, or a command failed
 *   2  invalid input: the spec or the command line
 *   3  Temporal, or a kboot worker to answer, cannot be reached
 *   4  the rollout waits for the operator (retry, skip or abort)
 *   5  `kboot check` found steps a rollout would change (drift, changed inputs, never applied)
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { Client, Connection, ServiceError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { HostCheckResult } from '../activities/contract.js';
import { buildPlan, hostsWithRole } from '../plan/index.js';
import type { ClusterSpec } from '../plan/spec.js';
import {
  abortUpdate,
  type OperatorAnswer,
  pauseUpdate,
  resumeUpdate,
  retryUpdate,
  rolloutWorkflowId,
  type RolloutInput,
  type RolloutPhase,
  type RolloutResult,
  searchAttributes,
  skipUpdate,
} from '../workflows/definitions.js';
import { PLAN_FORMATS, renderPlan, type PlanFormat } from './plan-view.js';
import { InvalidClusterNameError, listRollouts, type RolloutRecord } from './history.js';
import { readRollout, type RolloutSnapshot, statusDocument } from './progress.js';
import { renderHistory, renderProgress, renderSummary } from './render.js';
import { KBOOT_VERSION, temporalSettings, workflowUiUrl } from './settings.js';
import { loadSpec, parseSpec, readProblem, SpecError, type LoadedSpec } from './spec-file.js';
import { runTrust, TrustUsageError } from './trust.js';
import { createProgressView, type ProgressView, viewMode } from './watch.js';

export const EXIT = { ok: 0, failed: 1, invalid: 2, unreachable: 3, waiting: 4, changes: 5, degraded: 6 } as const;

/** Raised to end the command with a message and an exit code. */
class ExitError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

function readSpec(file: string): LoadedSpec {
  const loaded = loadSpec(file);
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${file}: ${warning.specPath}: ${warning.message}\n`);
  return loaded;
}

/**
 * Reads a spec without checking that its SSH key files exist. The plan depends on the spec alone,
 * so it prints on a machine that has none of the worker's keys.
 */
function readSpecWithoutKeyFiles(file: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, '', `cannot read the spec file: ${readProblem(error as NodeJS.ErrnoException)}`);
  }
  const loaded = parseSpec(text, file);
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${file}: ${warning.specPath}: ${warning.message}\n`);
  return loaded;
}

async function connect(): Promise<Client> {
  const settings = temporalSettings();
  try {
    const connection = await Connection.connect({ address: settings.address, connectTimeout: '5s' });
    return new Client({ connection, namespace: settings.namespace });
  } catch (error) {
    throw new ExitError(
      `cannot reach Temporal at ${settings.address}: ${(error as Error).message}; start the dev server (scripts/temporal-dev.sh start) or set TEMPORAL_ADDRESS`,
      EXIT.unreachable,
    );
  }
}

/** The memo shown in the web UI: what the rollout builds, never a secret. */
function specMemo(spec: ClusterSpec): Record<string, unknown> {
  return {
    cluster: spec.name,
    hosts: spec.hosts.length,
    masters: hostsWithRole(spec, 'master').map((host) => host.name),
    etcdMembers: hostsWithRole(spec, 'etcd').map((host) => host.name),
    nodes: hostsWithRole(spec, 'node').length,
    repository: spec.packages.repository.baseurl,
    flannelNetwork: `${spec.flannel.network} (/${spec.flannel.subnetLen} per node, ${spec.flannel.backend})`,
    serviceClusterIpRange: spec.kubernetes.serviceClusterIpRange,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long `apply` and `status --watch` keep following through a Temporal or worker outage. */
const FOLLOW_PATIENCE_MS = 5 * 60_000;

/**
 * Errors that a restarted server or a replaced worker clears: the server unreachable, or a query
 * that no worker answered yet.
 */
/** How long a one-shot `kboot status` waits for a worker to answer its query. */
const STATUS_DEADLINE_MS = 10_000;

/** How long an operator request waits for a worker to take it. */
const REQUEST_DEADLINE_MS = 30_000;

/** gRPC status of a Temporal client error, from the error or its cause. */
function grpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code ?? (error as { cause?: { code?: number } }).cause?.code;
}

/**
 * True when Temporal answered but no worker did: a query or update needs a worker polling the
 * task queue (gRPC FAILED_PRECONDITION 9 or DEADLINE_EXCEEDED 4 from a query, or a cancelled
 * request past its deadline).
 */
function noWorkerAnswered(error: unknown): boolean {
  const code = grpcCode(error);
  return code === 9 || code === 4 || code === 1;
}

function noWorkerMessage(): string {
  const settings = temporalSettings();
  return `no kboot worker answered on task queue ${settings.taskQueue} at ${settings.address}; the rollout's state is safe in Temporal, start a worker with kboot worker`;
}

function isTransient(error: unknown): boolean {
  const code = (error as { code?: number; cause?: { code?: number } }).code ?? (error as { cause?: { code?: number } }).cause?.code;
  // gRPC UNAVAILABLE (14), DEADLINE_EXCEEDED (4), and FAILED_PRECONDITION (9) which a query returns
  // while no worker polls the task queue.
  return code === 14 || code === 4 || code === 9;
}

/** Follows a rollout until it ends or waits for the operator; returns the last snapshot. */
async function follow(client: Client, cluster: string, view: ProgressView): Promise<RolloutSnapshot> {
  let unreachableSince: number | undefined;
  const ended = rolloutEnd(client, cluster);
  // Bounded by the rollout itself: it either ends or parks, and both end this loop.
  while (true) {
    let snapshot: RolloutSnapshot;
    try {
      snapshot = await readRollout(client, cluster);
      unreachableSince = undefined;
    } catch (error) {
      // The rollout lives in Temporal, not in this process: a server restart or a worker redeploy
      // only pauses the view, so keep asking for a while before giving up.
      if (!isTransient(error)) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > FOLLOW_PATIENCE_MS) {
        throw new ExitError(`lost contact with the rollout for ${FOLLOW_PATIENCE_MS / 1000}s: ${(error as Error).message}; it goes on in Temporal, check later with kboot status ${cluster}`, EXIT.unreachable);
      }
      const patience = `giving up ${Math.round((FOLLOW_PATIENCE_MS - (Date.now() - unreachableSince)) / 1000)}s from now`;
      view.notice(
        noWorkerAnswered(error)
          ? `waiting for a worker: ${noWorkerMessage()}; ${patience}`
          : `waiting for Temporal: ${(error as Error).message.split('\n')[0]} (at ${temporalSettings().address}); ${patience}`,
      );
      await sleep(2000);
      continue;
    }
    view.show(snapshot);
    if (snapshot.execution !== 'RUNNING' || snapshot.state?.phase === 'waiting-for-operator') return snapshot;
    await Promise.race([sleep(1000), ended.next()]);
  }
}

/**
 * Waits on the rollout's result, so that following notices the end at once rather than at the
 * next poll. `next()` resolves when the rollout has closed. After a lost connection it never
 * resolves, and the next call waits on the result again.
 */
function rolloutEnd(client: Client, cluster: string): { next: () => Promise<void> } {
  let closed: Promise<void> | undefined;
  const next = (): Promise<void> => {
    closed ??= client.workflow
      .getHandle(rolloutWorkflowId(cluster))
      .result()
      .then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof WorkflowFailedError) return undefined;
          closed = undefined;
          return new Promise<void>(() => undefined);
        },
      );
    return closed;
  };
  return { next };
}

/** Drops the "<step> on <host>: " that remote errors start with, where the line already names both. */
function withoutAction(error: string, step: string, host: string): string {
  const action = `${step} on ${host}: `;
  return error.startsWith(action) ? error.slice(action.length) : error;
}

function waitingMessage(cluster: string, snapshot: RolloutSnapshot): string {
  const lines = [`rollout ${cluster} waits for the operator:`];
  for (const [name, host] of Object.entries(snapshot.state?.hosts ?? {})) {
    if (host.status === 'failed' && host.failure) lines.push(`  ${name}: ${host.failure.step} failed: ${withoutAction(host.failure.error, host.failure.step, name).split('\n')[0]}`);
  }
  for (const [gate, state] of Object.entries(snapshot.state?.gates ?? {})) {
    if (state?.status === 'failed') lines.push(`  gate ${gate} failed: ${(state.error ?? '').split('\n')[0]}`);
  }
  lines.push(`fix the host, then: kboot retry ${cluster} HOST | kboot skip ${cluster} HOST | kboot abort ${cluster}`);
  return lines.join('\n');
}

async function apply(file: string, options: { wait: boolean }): Promise<number> {
  const { spec } = readSpec(file);
  const settings = temporalSettings();
  const client = await connect();
  const workflowId = rolloutWorkflowId(spec.name);
  const requestedAt = Date.now();
  const input: RolloutInput = { spec, kbootVersion: KBOOT_VERSION };
  const handle = await client.workflow.start('rolloutWorkflow', {
    taskQueue: settings.taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: searchAttributes.cluster, value: spec.name },
      { key: searchAttributes.version, value: KBOOT_VERSION },
    ],
    memo: specMemo(spec),
    staticSummary: `Rollout of ${spec.name}: ${spec.hosts.length} hosts`,
  });
  const description = await handle.describe();
  const attached = description.startTime.getTime() < requestedAt - 1000;
  process.stdout.write(
    attached
      ? `attached to the rollout of ${spec.name} already running since ${description.startTime.toISOString()} (it keeps the spec it started with)\n`
      : `started the rollout of ${spec.name}: ${spec.hosts.length} hosts\n`,
  );
  process.stdout.write(`web UI: ${workflowUiUrl(settings, workflowId)}\n`);
  if (!options.wait) return EXIT.ok;

  const view = createProgressView(viewMode({ json: false, stream: process.stdout }));
  let snapshot: RolloutSnapshot;
  try {
    snapshot = await follow(client, spec.name, view);
  } finally {
    view.close();
  }
  if (snapshot.execution === 'RUNNING') {
    process.stderr.write(`${waitingMessage(spec.name, snapshot)}\n`);
    return EXIT.waiting;
  }
  try {
    const result = (await handle.result()) as RolloutResult;
    process.stdout.write(`${renderSummary(spec.name, result).join('\n')}\nweb UI: ${workflowUiUrl(settings, workflowId)}\n`);
    return exitForPhase(result.phase);
  } catch (error) {
    if (error instanceof WorkflowFailedError) {
      // The rollout's own failure already reads "rollout <name> aborted: ..." or "... failed: ...".
      let message = error.cause?.message ?? error.message;
      if (!message.startsWith(`rollout ${spec.name} `)) message = `rollout ${spec.name} ${snapshot.execution.toLowerCase()}: ${message}`;
      process.stderr.write(`${message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

const CONDITION_TEXT = {
  'in-place': 'in place',
  'not-applied': 'never applied',
  changed: 'inputs changed since it was applied',
  drift: 'drifted: applied, but its verification fails now',
} as const;

/** TASK_QUEUE_TYPE_WORKFLOW in Temporal's API: the queue that workers poll for workflow tasks. */
const WORKFLOW_TASK_QUEUE = 1;

/** Bounds a check whose worker went away, so that it does not stay open in Temporal. */
const CHECK_TIMEOUT = '30 minutes';

/** Reports what a rollout of `file` would change, reading every host and changing nothing. */
async function check(file: string): Promise<number> {
  const { spec } = readSpec(file);
  const settings = temporalSettings();
  const client = await connect();
  // A check waits for a worker to read the hosts; with none polling it would wait in silence.
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: settings.namespace,
    taskQueue: { name: settings.taskQueue },
    taskQueueType: WORKFLOW_TASK_QUEUE,
  });
  if ((pollers ?? []).length === 0) {
    throw new ExitError(`no kboot worker polls task queue ${settings.taskQueue} at ${settings.address}; start one with kboot worker, then check again`, EXIT.unreachable);
  }
  // Each check is a workflow of its own: two checks of different specs must not share a result.
  const results = (await client.workflow.execute('driftCheckWorkflow', {
    taskQueue: settings.taskQueue,
    workflowId: `${rolloutWorkflowId(spec.name)}-check-${Date.now().toString(36)}`,
    args: [spec],
    workflowExecutionTimeout: CHECK_TIMEOUT,
    staticSummary: `Drift check of ${spec.name}`,
  })) as HostCheckResult[];
  let pending = 0;
  let unreadable = 0;
  for (const result of results) {
    if (result.error) {
      unreadable++;
      process.stdout.write(`${result.host}: cannot check: ${result.error.split('\n')[0]}\n`);
      continue;
    }
    for (const { step, condition, failedProbes } of result.steps) {
      if (condition === 'in-place') continue;
      pending++;
      const probes = failedProbes.length > 0 ? ` (check not met: ${failedProbes.join('; ')})` : '';
      process.stdout.write(`${result.host}: ${step}: ${CONDITION_TEXT[condition]}${probes}\n`);
    }
  }
  const total = results.reduce((sum, result) => sum + result.steps.length, 0);
  process.stdout.write(`${spec.name}: ${total - pending} of ${total} steps in place, ${pending} would change${unreadable ? `, ${unreadable} host(s) unreadable` : ''}\n`);
  if (unreadable > 0) return EXIT.failed;
  return pending > 0 ? EXIT.changes : EXIT.ok;
}

async function status(cluster: string, options: { watch: boolean; json: boolean }): Promise<number> {
  const client = await connect();
  const settings = temporalSettings();
  let snapshot: RolloutSnapshot;
  const view = options.watch ? createProgressView(viewMode({ json: options.json, stream: process.stdout })) : undefined;
  try {
    // A query waits for a worker to answer it; a one-shot status gives up after a short while.
    snapshot = view ? await follow(client, cluster, view) : await client.withDeadline(Date.now() + STATUS_DEADLINE_MS, () => readRollout(client, cluster));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new ExitError(`no rollout of cluster ${cluster} found (workflow ${rolloutWorkflowId(cluster)}); start one with kboot apply FILE`, EXIT.failed);
    if (noWorkerAnswered(error)) throw new ExitError(noWorkerMessage(), EXIT.unreachable);
    throw error;
  } finally {
    view?.close();
  }
  if (options.json && !options.watch) {
    process.stdout.write(`${JSON.stringify(statusDocument(snapshot, Date.now()), null, 2)}\n`);
  } else if (!options.json) {
    if (!options.watch && snapshot.state) process.stdout.write(`${renderProgress(cluster, snapshot.state, Date.now()).join('\n')}\n`);
    process.stdout.write(`workflow ${snapshot.workflowId}: ${snapshot.execution}\nweb UI: ${workflowUiUrl(settings, snapshot.workflowId)}\n`);
  }
  if (snapshot.state?.phase === 'waiting-for-operator') return EXIT.waiting;
  if (snapshot.execution === 'RUNNING') return EXIT.ok;
  return exitForPhase(snapshot.state?.phase);
}

/** A script must tell a degraded cluster from a healthy one without parsing the summary. */
function exitForPhase(phase: RolloutPhase | undefined): number {
  if (phase === 'succeeded') return EXIT.ok;
  return phase === 'degraded' ? EXIT.degraded : EXIT.failed;
}

async function operatorRequest(cluster: string, request: (client: Client) => Promise<OperatorAnswer>): Promise<number> {
  const client = await connect();
  try {
    // An update waits for a worker to run it; without a deadline it would wait for ever.
    const answer = await client.withDeadline(Date.now() + REQUEST_DEADLINE_MS, () => request(client));
    process.stdout.write(`${answer.message}\n`);
    return answer.accepted ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new ExitError(`no running rollout of cluster ${cluster}`, EXIT.failed);
    if (error instanceof WorkflowUpdateFailedError) throw new ExitError(`request rejected: ${error.cause?.message ?? error.message}`, EXIT.failed);
    if (noWorkerAnswered(error)) throw new ExitError(`request not taken within ${REQUEST_DEADLINE_MS / 1000}s: ${noWorkerMessage()}`, EXIT.unreachable);
    throw error;
  }
}

async function history(cluster: string, options: { limit: number; json: boolean }): Promise<number> {
  const client = await connect();
  const settings = temporalSettings();
  let records: RolloutRecord[];
  try {
    records = await listRollouts(client, cluster, options.limit);
  } catch (error) {
    if (error instanceof InvalidClusterNameError) throw new ExitError(error.message, EXIT.invalid);
    throw error;
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return EXIT.ok;
  }
  if (records.length === 0) {
    process.stdout.write(`no rollouts of cluster ${cluster}\n`);
    return EXIT.ok;
  }
  process.stdout.write(`${renderHistory(records, Date.now()).join('\n')}\n`);
  process.stdout.write(`web UI: ${workflowUiUrl(settings, rolloutWorkflowId(cluster))}\n`);
  return EXIT.ok;
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('kboot')
    .description('Bootstrap Kubernetes on bare-metal fleets over SSH, as durable Temporal workflows')
    .version(KBOOT_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const run = (action: () => Promise<number> | number) => async () => setExitCode(await action());

  program
    .command('validate')
    .argument('<file>', 'cluster spec (YAML)')
    .description('check a cluster spec without contacting anything')
    .action(async (file: string) =>
      run(() => {
        const { spec } = readSpec(file);
        process.stdout.write(`${file}: valid cluster spec for ${spec.name}, ${spec.hosts.length} hosts\n`);
        return EXIT.ok;
      })(),
    );

  program
    .command('trust')
    .argument('<file>', 'cluster spec (YAML)')
    .option('--replace <host...>', 'replace the recorded key of a host whose new fingerprint you checked on the host', [])
    .description("record the hosts' SSH host keys in the spec's knownHostsFile, printing every fingerprint; never replaces a key unasked")
    .action(async (file: string, options: { replace: string[] }) =>
      run(async () => {
        try {
          return await runTrust(file, options.replace, (line) => process.stdout.write(`${line}\n`));
        } catch (error) {
          if (error instanceof TrustUsageError) throw new ExitError(error.message, EXIT.invalid);
          throw error;
        }
      })(),
    );

  program
    .command('plan')
    .argument('<file>', 'cluster spec (YAML)')
    .option('--format <format>', 'text, mermaid or dot', 'text')
    .description('print the task graph: which step runs on which host, after what')
    .action(async (file: string, options: { format: string }) =>
      run(() => {
        if (!(PLAN_FORMATS as readonly string[]).includes(options.format)) throw new ExitError(`invalid --format ${options.format}: use text, mermaid or dot`, EXIT.invalid);
        const { spec } = readSpecWithoutKeyFiles(file);
        process.stdout.write(renderPlan(buildPlan(spec), options.format as PlanFormat));
        return EXIT.ok;
      })(),
    );

  program
    .command('check')
    .argument('<file>', 'cluster spec (YAML)')
    .description('report what a rollout would change (drift, changed inputs), changing nothing')
    .action(async (file: string) => run(() => check(file))());

  program
    .command('apply')
    .argument('<file>', 'cluster spec (YAML)')
    .option('--no-wait', 'start (or find) the rollout and return at once')
    .description('start the rollout of a cluster, or attach to the one running, and follow it')
    .action(async (file: string, options: { wait: boolean }) => run(() => apply(file, options))());

  program
    .command('status')
    .argument('<cluster>', 'cluster name')
    .option('--watch', 'follow the rollout until it ends or waits for the operator: a live view on a terminal, one line per change otherwise')
    .option('--json', 'print the rollout as JSON; with --watch, one JSON document per line at each change')
    .description('show a rollout: phases, hosts, gates')
    .action(async (cluster: string, options: { watch?: boolean; json?: boolean }) =>
      run(() => status(cluster, { watch: Boolean(options.watch), json: Boolean(options.json) }))(),
    );

  program
    .command('retry')
    .argument('<cluster>', 'cluster name')
    .argument('<target>', 'a failed host, or a failed gate such as gate:etcd-quorum')
    .description('run a failed host again from the step it failed at')
    .action(async (cluster: string, target: string) =>
      run(() => operatorRequest(cluster, (client) => client.workflow.getHandle(rolloutWorkflowId(cluster)).executeUpdate(retryUpdate, { args: [target] })))(),
    );

  program
    .command('skip')
    .argument('<cluster>', 'cluster name')
    .argument('<host>', 'a failed host')
    .description('give up on a failed host: its remaining steps do not run')
    .action(async (cluster: string, host: string) =>
      run(() => operatorRequest(cluster, (client) => client.workflow.getHandle(rolloutWorkflowId(cluster)).executeUpdate(skipUpdate, { args: [host] })))(),
    );

  program
    .command('abort')
    .argument('<cluster>', 'cluster name')
    .option('--reason <text>', 'recorded in the rollout', 'aborted by the operator')
    .description('stop a rollout once its running steps finish')
    .action(async (cluster: string, options: { reason: string }) =>
      run(() => operatorRequest(cluster, (client) => client.workflow.getHandle(rolloutWorkflowId(cluster)).executeUpdate(abortUpdate, { args: [options.reason] })))(),
    );

  program
    .command('pause')
    .argument('<cluster>', 'cluster name')
    .description('hold a rollout: running steps finish, nothing new starts until resume')
    .action(async (cluster: string) =>
      run(() => operatorRequest(cluster, (client) => client.workflow.getHandle(rolloutWorkflowId(cluster)).executeUpdate(pauseUpdate)))(),
    );

  program
    .command('resume')
    .argument('<cluster>', 'cluster name')
    .description('let a paused rollout go on')
    .action(async (cluster: string) =>
      run(() => operatorRequest(cluster, (client) => client.workflow.getHandle(rolloutWorkflowId(cluster)).executeUpdate(resumeUpdate)))(),
    );

  program
    .command('history')
    .argument('<cluster>', 'cluster name')
    .option('--limit <count>', 'number of rollouts to list, newest first', '20')
    .option('--json', 'print the rollouts as a JSON array')
    .description('list past rollouts of a cluster with their outcome and duration')
    .action(async (cluster: string, options: { limit: string; json?: boolean }) =>
      run(() => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ExitError(`invalid --limit ${options.limit}: use a whole number from 1 to 1000`, EXIT.invalid);
        return history(cluster, { limit, json: Boolean(options.json) });
      })(),
    );

  program
    .command('worker')
    .description('run a worker: executes rollouts and their SSH steps (TEMPORAL_ADDRESS, KBOOT_TASK_QUEUE)')
    .option('--workflows <module>', 'run this workflows module (.ts or .js) instead of the built one: a candidate release on a staging task queue')
    .action(async (options: { workflows?: string }) =>
      run(async () => {
        const { runWorker } = await import('../worker/worker.js');
        if (options.workflows !== undefined && !existsSync(options.workflows)) {
          throw new ExitError(`--workflows: file not found: ${options.workflows}`, EXIT.invalid);
        }
        try {
          await runWorker({ workflowsPath: options.workflows === undefined ? undefined : resolve(options.workflows) });
        } catch (error) {
          const settings = temporalSettings();
          if ((error as Error).name === 'TransportError') {
            throw new ExitError(`cannot reach Temporal at ${settings.address}: ${(error as Error).message.split('\n')[0]}; start the dev server or set TEMPORAL_ADDRESS`, EXIT.unreachable);
          }
          if ((error as Error).name === 'NamespaceNotFoundError') {
            throw new ExitError(`namespace ${settings.namespace} not found at ${settings.address}; set TEMPORAL_NAMESPACE or create it`, EXIT.unreachable);
          }
          throw error;
        }
        return EXIT.ok;
      })(),
    );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  try {
    await buildProgram((value) => (code = value)).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (error instanceof SpecError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT.invalid;
    }
    if (error instanceof ExitError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.code;
    }
    if ((error as Error).name === 'NamespaceNotFoundError') {
      const settings = temporalSettings();
      process.stderr.write(`error: namespace ${settings.namespace} not found at ${settings.address}; set TEMPORAL_NAMESPACE or create it\n`);
      return EXIT.unreachable;
    }
    if (error instanceof ServiceError) {
      // Temporal answered with an error: its message and cause say what, a stack trace does not.
      const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
      process.stderr.write(`error: Temporal: ${error.message}${cause}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
  return code;
}

main(process.argv).then((code) => process.exit(code));
