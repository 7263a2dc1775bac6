/**
 * Processes the benchmark starts: timed command runs with a time bound, and the kboot worker,
 * whose peak memory it reads from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

export interface TimedRun {
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and times it. Kills it with SIGKILL after `timeoutMs`. */
export function timedRun(argv: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string }): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`start ${argv.join(' ')}: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, seconds: Number(process.hrtime.bigint() - started) / 1e9, stdout, stderr });
    });
  });
}

/** A `kboot worker` process with its output in a log file. */
export class WorkerProcess {
  private readonly child: ChildProcess;
  /** The start of the worker's output, enough to see it reach the RUNNING state. */
  private head = '';

  constructor(cli: string, env: NodeJS.ProcessEnv, logFile: string) {
    const log = createWriteStream(logFile);
    this.child = spawn(process.execPath, [cli, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.pipe(log);
      stream?.on('data', (chunk: Buffer) => {
        if (this.head.length < 64 * 1024) this.head += chunk.toString();
      });
    }
  }

  /**
   * Waits until the worker polls its task queue, as a worker run as a service always does before
   * an operator applies a spec. Throws when it exits or is not running after `timeoutMs`.
   */
  async waitUntilRunning(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/state: 'RUNNING'/.test(this.head)) {
      if (this.child.exitCode !== null) throw new Error(`kboot worker exited with code ${this.child.exitCode} before it ran: ${this.head.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`kboot worker not running after ${timeoutMs} ms: ${this.head.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Peak resident memory of the worker since it started (VmHWM), in KiB. */
  peakMemoryKiB(): number {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    if (!match) throw new Error(`read peak memory of kboot worker pid ${this.child.pid}: no VmHWM line in /proc/${this.child.pid}/status`);
    return Number(match[1]);
  }

  /** Sends SIGTERM, then SIGKILL after 20 s, and waits for the worker to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
