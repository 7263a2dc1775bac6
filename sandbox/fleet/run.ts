/**
 * Bounded process execution for the fleet: every command has a timeout, captured output has a size
 * limit, and a timed-out command is killed with its whole process group.
 */
import { spawn } from 'node:child_process';

/** Output kept per stream; the rest is dropped and the result's `truncated` flag is set. */
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

/** PATH for commands run on the sandbox's behalf, so the caller's PATH does not decide which binary runs. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  /** Kill the command (and its process group) after this many milliseconds. */
  timeoutMs: number;
  /** Written to the command's stdin, which is then closed. Without it stdin is empty. */
  input?: string | Buffer;
  /** Complete environment of the command; defaults to PATH=SYSTEM_PATH and LANG=C.UTF-8. */
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  /** Exit code, or null when a signal ended the command. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran longer than timeoutMs. */
  timedOut: boolean;
  /** True when stdout or stderr was longer than the 8 MiB kept per stream. */
  truncated: boolean;
}

/** Thrown by runChecked when a command exits non-zero, is killed, or times out. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
  constructor(
    readonly command: string[],
    readonly result: RunResult,
  ) {
    super(`${command.join(' ')}: ${describeFailure(result)}`);
  }
}

export function describeFailure(result: RunResult): string {
  const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join(' | ');
  const how = result.timedOut
    ? 'timed out'
    : result.signal !== null
      ? `killed by ${result.signal}`
      : `exited with code ${result.exitCode}`;
  return output ? `${how}: ${output}` : how;
}

export function defaultEnv(): NodeJS.ProcessEnv {
  return { PATH: SYSTEM_PATH, LANG: 'C.UTF-8' };
}

/**
 * Runs `argv` without a shell and resolves with its exit status and output; never rejects for a
 * non-zero exit. The command gets its own process group so a timeout kills everything it started.
 * As with an SSH session, the call ends when the command's stdout and stderr close. A background
 * process that keeps them open makes the call wait until the timeout, while one that redirects them
 * (a daemon) keeps running after the call.
 */
export function run(argv: string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) {
      reject(new Error('run: empty command'));
      return;
    }
    const child = spawn(file, args, {
      env: options.env ?? defaultEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });

    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const sizes = { stdout: 0, stderr: 0 };
    let truncated = false;
    let timedOut = false;

    const collect = (chunks: Buffer[], key: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = MAX_OUTPUT_BYTES - sizes[key];
      if (room <= 0) {
        truncated = true;
        return;
      }
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      truncated ||= kept.length < chunk.length;
      chunks.push(kept);
      sizes[key] += kept.length;
    };
    child.stdout.on('data', collect(stdout, 'stdout'));
    child.stderr.on('data', collect(stderr, 'stderr'));

    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`run ${file}: ${error.message}`));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        truncated,
      });
    });

    // A command that exits without reading its stdin makes the write fail with EPIPE; the exit status
    // is what matters then.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `argv` and throws CommandFailedError unless it exits with code 0. */
export async function runChecked(argv: string[], options: RunOptions): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.exitCode !== 0 || result.timedOut) throw new CommandFailedError(argv, result);
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined, and returns that
 * value; returns undefined when `timeoutMs` has passed.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs }: { timeoutMs: number; intervalMs: number },
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() + intervalMs > deadline) return undefined;
    await sleep(intervalMs);
  }
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order.
 * Every item is attempted even when some fail, and the settled results are returned.
 */
export async function mapSettledWithLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index]!, index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
