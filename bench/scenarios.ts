/**
 * The four scenarios the benchmark runs for each fleet size, each on a fresh fleet. Two time a full
 * rollout and a no-op re-run, one with kboot and one with Ansible. The other two fail one node at
 * its last step with each tool, then time the resume once the operator fixed the node.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { loadSpec } from '../client/spec-file.js';
import { buildPlan } from '../plan/index.js';
import { status } from '../sandbox/fleet/index.js';
import { rolloutWorkflowId } from '../workflows/definitions.js';
import { closeControlMasters, compareWithKboot, runPlaybook, writeInventory } from './ansible.js';
import { fixKubeletFault, freshFleet, injectKubeletFault, sshdLimitMessages, type BenchFleet } from './fleet.js';
import { criticalPath, rolloutTimes } from './overhead.js';
import { timedRun, WorkerProcess, type TimedRun } from './processes.js';
import { SessionSampler, type SessionPeaks } from './sessions.js';

/** Exit code of `kboot apply` when the rollout waits for the operator. */
const EXIT_WAITING = 4;
const RUN_TIMEOUT_MS = 20 * 60_000;
const SAMPLE_INTERVAL_MS = 250;

export interface BenchContext {
  repoRoot: string;
  cli: string;
  ansibleDir: string;
  workDir: string;
  client: Client;
  temporalAddress: string;
  log: (line: string) => void;
}

export interface KbootFigures {
  fullSeconds: number;
  noopSeconds: number;
  /** Critical path of the raw commands of the full rollout, and the tasks on it. */
  criticalPathSeconds: number;
  criticalPath: string[];
  /** The full rollout's workflow alone, without the CLI's start-up and progress polling. */
  workflowSeconds: number;
  /** Host runs (child workflows) of the full rollout, and how long the server took to start each. */
  hostRuns: number;
  childStartMeanSeconds: number;
  childStartP95Seconds: number;
  /** Per wave of host runs (by first step), the time from its first start to its last. */
  waveSpreadSeconds: Record<string, number>;
  peakMemoryKiB: number;
  sessions: SessionPeaks;
  sshdLimitMessages: number;
}

export interface AnsibleFigures {
  fullSeconds: number;
  noopSeconds: number;
  sessions: SessionPeaks;
  sshdLimitMessages: number;
  /** Files on the hosts that differ from what kboot's steps write. Empty when both did the same work. */
  fileDifferences: string[];
}

export interface ResumeFigures {
  /** Time from the operator's retry (kboot) or re-run (Ansible) to a finished cluster. */
  resumeSeconds: number;
  /** The failing run before it, which the benchmark does not compare. */
  failedRunSeconds: number;
}

function fail(what: string, run: TimedRun, extra = ''): never {
  const tail = (text: string): string => text.trim().split('\n').slice(-30).join('\n');
  throw new Error(`${what}: exit code ${run.code} after ${run.seconds.toFixed(1)} s\n${tail(run.stdout)}\n${tail(run.stderr)}${extra}`);
}

function kbootEnv(context: BenchContext, taskQueue: string): NodeJS.ProcessEnv {
  return { ...process.env, TEMPORAL_ADDRESS: context.temporalAddress, KBOOT_TASK_QUEUE: taskQueue };
}

/** Ends a rollout of the cluster left running by an interrupted benchmark, so apply starts afresh. */
async function terminateLeftover(context: BenchContext, cluster: string): Promise<void> {
  const handle = context.client.workflow.getHandle(rolloutWorkflowId(cluster));
  try {
    if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('benchmark starts again on a fresh fleet');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

async function startSampler(fleet: BenchFleet): Promise<SessionSampler> {
  const hosts = (await status(fleet.name)).hosts;
  const sampler = new SessionSampler(Object.fromEntries(hosts.map((host) => [host.name, host.initPid as number])));
  sampler.start(SAMPLE_INTERVAL_MS);
  return sampler;
}

/** Starts a worker on a task queue of its own and waits until it polls. */
async function startWorker(context: BenchContext, name: string): Promise<{ worker: WorkerProcess; env: NodeJS.ProcessEnv }> {
  const env = kbootEnv(context, `bench-${name}-${Date.now().toString(36)}`);
  const worker = new WorkerProcess(context.cli, env, join(context.workDir, `${name}-worker.log`));
  try {
    await worker.waitUntilRunning(120_000);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return { worker, env };
}

export async function kbootRollout(context: BenchContext, name: string, hosts: number): Promise<KbootFigures> {
  await terminateLeftover(context, name);
  const fleet = await freshFleet(name, hosts, context.repoRoot, context.log);
  const { worker, env } = await startWorker(context, `${name}-rollout`);
  try {
    const sampler = await startSampler(fleet);
    const full = await timedRun([process.execPath, context.cli, 'apply', fleet.benchSpecFile], { env, timeoutMs: RUN_TIMEOUT_MS });
    if (full.code !== 0) fail(`${name}: kboot apply`, full);
    context.log(`${name}: kboot full rollout ${full.seconds.toFixed(1)} s`);

    // The no-op run is a new workflow run, so the full rollout's histories are read before it.
    const { spec } = loadSpec(fleet.benchSpecFile);
    const times = await rolloutTimes(context.client, rolloutWorkflowId(name));
    const path = criticalPath(buildPlan(spec), times.tasks);
    const childStarts = [...times.childStartSeconds].sort((a, b) => a - b);

    const noop = await timedRun([process.execPath, context.cli, 'apply', fleet.benchSpecFile], { env, timeoutMs: RUN_TIMEOUT_MS });
    if (noop.code !== 0 || !/ 0 steps applied,/.test(noop.stdout)) fail(`${name}: kboot apply (no-op re-run)`, noop);
    context.log(`${name}: kboot no-op re-run ${noop.seconds.toFixed(1)} s`);
    const sessions = sampler.stop();

    return {
      fullSeconds: full.seconds,
      noopSeconds: noop.seconds,
      criticalPathSeconds: path.seconds,
      criticalPath: path.path,
      workflowSeconds: times.workflowSeconds,
      hostRuns: childStarts.length,
      childStartMeanSeconds: childStarts.reduce((total, value) => total + value, 0) / Math.max(1, childStarts.length),
      childStartP95Seconds: childStarts[Math.min(childStarts.length - 1, Math.floor(childStarts.length * 0.95))] ?? 0,
      waveSpreadSeconds: times.waveSpreadSeconds,
      peakMemoryKiB: worker.peakMemoryKiB(),
      sessions,
      sshdLimitMessages: await sshdLimitMessages(name),
    };
  } finally {
    await worker.stop();
  }
}

export async function ansibleRun(context: BenchContext, name: string, hosts: number): Promise<AnsibleFigures> {
  const fleet = await freshFleet(name, hosts, context.repoRoot, context.log);
  const workDir = join(context.workDir, `${name}-ansible`);
  mkdirSync(workDir, { recursive: true });
  const { spec } = loadSpec(fleet.benchSpecFile);
  const inventory = writeInventory(spec, workDir);
  const options = { ansibleDir: context.ansibleDir, inventory, workDir, forks: hosts, timeoutMs: RUN_TIMEOUT_MS };
  try {
    const sampler = await startSampler(fleet);
    const full = await runPlaybook(options);
    if (full.code !== 0) fail(`${name}: ansible-playbook`, full, `\nwhole output: ${full.logFile}`);
    context.log(`${name}: Ansible full run ${full.seconds.toFixed(1)} s`);
    const noop = await runPlaybook(options);
    if (noop.code !== 0) fail(`${name}: ansible-playbook (no-op re-run)`, noop, `\nwhole output: ${noop.logFile}`);
    if (!/changed=0 /.test(noop.stdout) || /changed=[1-9]/.test(noop.stdout)) fail(`${name}: ansible-playbook (no-op re-run changed something)`, noop);
    context.log(`${name}: Ansible no-op re-run ${noop.seconds.toFixed(1)} s`);
    const sessions = sampler.stop();
    return {
      fullSeconds: full.seconds,
      noopSeconds: noop.seconds,
      sessions,
      sshdLimitMessages: await sshdLimitMessages(name),
      fileDifferences: await compareWithKboot(spec, name),
    };
  } finally {
    await closeControlMasters(workDir);
  }
}

/** Picks the node that the resume scenarios fail: the last host, which is a plain node. */
function faultyNode(fleet: BenchFleet): string {
  return fleet.hosts[fleet.hosts.length - 1].name;
}

export async function kbootResume(context: BenchContext, name: string, hosts: number): Promise<ResumeFigures> {
  await terminateLeftover(context, name);
  const fleet = await freshFleet(name, hosts, context.repoRoot, context.log);
  const node = faultyNode(fleet);
  await injectKubeletFault(name, node);
  const { worker, env } = await startWorker(context, `${name}-resume`);
  try {
    const failed = await timedRun([process.execPath, context.cli, 'apply', fleet.benchSpecFile], { env, timeoutMs: RUN_TIMEOUT_MS });
    if (failed.code !== EXIT_WAITING || !failed.stderr.includes(`${node}: node failed`)) fail(`${name}: kboot apply with ${node} failing at its node step`, failed);
    context.log(`${name}: kboot run with ${node} failing ${failed.seconds.toFixed(1)} s, waiting for the operator`);
    await fixKubeletFault(name, node);

    const started = process.hrtime.bigint();
    const retry = await timedRun([process.execPath, context.cli, 'retry', name, node], { env, timeoutMs: 60_000 });
    if (retry.code !== 0) fail(`${name}: kboot retry ${node}`, retry);
    const result = (await context.client.workflow.getHandle(rolloutWorkflowId(name)).result()) as { phase: string };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (result.phase !== 'succeeded') throw new Error(`${name}: rollout ended ${result.phase} after kboot retry ${node}`);
    context.log(`${name}: kboot resume after retry ${seconds.toFixed(1)} s`);
    return { resumeSeconds: seconds, failedRunSeconds: failed.seconds };
  } finally {
    await worker.stop();
  }
}

export async function ansibleResume(context: BenchContext, name: string, hosts: number): Promise<ResumeFigures> {
  const fleet = await freshFleet(name, hosts, context.repoRoot, context.log);
  const node = faultyNode(fleet);
  await injectKubeletFault(name, node);
  const workDir = join(context.workDir, `${name}-ansible-resume`);
  mkdirSync(workDir, { recursive: true });
  const inventory = writeInventory(loadSpec(fleet.benchSpecFile).spec, workDir);
  const options = { ansibleDir: context.ansibleDir, inventory, workDir, forks: hosts, timeoutMs: RUN_TIMEOUT_MS };
  try {
    const failed = await runPlaybook(options);
    if (failed.code === 0 || !failed.failedHosts.includes(node)) fail(`${name}: ansible-playbook with ${node} failing at its last task`, failed);
    context.log(`${name}: Ansible run with ${node} failing ${failed.seconds.toFixed(1)} s; retry file: ${failed.failedHosts.join(', ')}`);
    await fixKubeletFault(name, node);

    // What the retry file is for: run the playbook again on the hosts that failed.
    const resumed = await runPlaybook({ ...options, limit: failed.failedHosts.join(',') });
    if (resumed.code !== 0) fail(`${name}: ansible-playbook --limit ${failed.failedHosts.join(',')}`, resumed);
    context.log(`${name}: Ansible resume on ${failed.failedHosts.join(', ')} ${resumed.seconds.toFixed(1)} s`);
    return { resumeSeconds: resumed.seconds, failedRunSeconds: failed.seconds };
  } finally {
    await closeControlMasters(workDir);
  }
}
