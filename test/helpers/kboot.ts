/**
 * Runs the built kboot CLI and worker as separate processes, as an operator would. Tests need
 * `npm run build` first (the test script does it) and TEMPORAL_ADDRESS pointing at a dev server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../..');
export const CLI = resolve(REPO_ROOT, 'dist/client/cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  /** Output so far. */
  stdout: () => string;
  done: Promise<CliResult>;
}

/** Starts `kboot ARGS`, killing it after `timeoutMs`; `done` resolves when it exits. */
export function spawnKboot(args: string[], env: Record<string, string>, timeoutMs = 600_000): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
  return { stdout: () => stdout, done };
}

/** Runs `kboot ARGS` to completion, killing it after `timeoutMs`. */
export function runKboot(args: string[], env: Record<string, string>, timeoutMs = 600_000): Promise<CliResult> {
  return spawnKboot(args, env, timeoutMs).done;
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `kboot worker [args]` on its own task queue; stop() sends SIGTERM, then SIGKILL after 20 s. */
export function startWorker(env: Record<string, string>, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, output: () => output, stop };
}

/** A task queue no other test run uses, so workers of parallel runs never take each other's tasks. */
export function uniqueTaskQueue(name: string): string {
  return `kboot-test-${name}-${process.pid}-${Date.now().toString(36)}`;
}
