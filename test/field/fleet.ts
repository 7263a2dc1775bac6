/**
 * Sandbox fleets and cluster specs for the field-case tests. Each test file brings up its own
 * fleet, writes the specs it needs next to the fleet's own cluster.yaml, and builds its fault on
 * the hosts for real.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { z } from 'zod';
import type { clusterSpecSchema } from '../../plan/spec';
import { WorkflowNotFoundError } from '@temporalio/client';
import { down, hostExec, type UpResult } from '../../sandbox/fleet/index';
import { type CliResult, type WorkerProcess } from '../helpers/kboot';
import { connectClient } from '../helpers/rollout';

/** A cluster spec as written in YAML, before defaults. */
export type SpecDocument = z.input<typeof clusterSpecSchema>;

/** Brings up a fresh fleet, ending the rollout and removing the fleet that an earlier run left. */
export { freshFleet } from '../helpers/rollout';

/** Terminates the cluster's rollout if one is running. */
export async function endRollout(cluster: string): Promise<void> {
  const { client, close } = await connectClient();
  try {
    const handle = client.workflow.getHandle(`kboot-${cluster}`);
    if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('a field-case test starts or ends');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  } finally {
    await close();
  }
}

/** Ends what a field-case test file started: its rollout, its worker and, unless KBOOT_KEEP_FLEET=1, its fleet. */
export async function removeFieldFleet(cluster: string, worker: WorkerProcess | undefined): Promise<void> {
  await endRollout(cluster);
  await worker?.stop();
  if (process.env.KBOOT_KEEP_FLEET !== '1') await down(cluster);
}

/** Writes `file` next to the fleet's cluster.yaml: that spec, changed by `edit`. Returns its path. */
export function writeSpec(fleet: UpResult, file: string, edit: (spec: SpecDocument) => void): string {
  const spec = parse(readFileSync(fleet.specFile, 'utf8')) as SpecDocument;
  edit(spec);
  const path = join(dirname(fleet.specFile), file);
  writeFileSync(path, stringify(spec));
  return path;
}

export function addressOf(fleet: UpResult, host: string): string {
  const entry = fleet.hosts.find((candidate) => candidate.name === host);
  if (!entry) throw new Error(`host ${host} is not in fleet ${fleet.name} (hosts: ${fleet.hosts.map((h) => h.name).join(', ')})`);
  return entry.address;
}

/** Runs a bash script as root on a sandbox host and returns its exit code and output, never throwing on failure. */
export async function tryOnHost(fleet: string, host: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await hostExec(fleet, host, ['bash', '-c', script], { timeoutMs: 60_000 });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** Formats the whole output of a kboot run for assertion messages. */
export function describeRun(result: CliResult): string {
  return `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** etcdctl (v3 API) against `endpoints`, with short timeouts so a dead member costs seconds. */
export function etcdctl(endpoints: string[], args: string): string {
  return `ETCDCTL_API=3 etcdctl --endpoints=${endpoints.join(',')} --dial-timeout=2s --command-timeout=5s ${args}`;
}
