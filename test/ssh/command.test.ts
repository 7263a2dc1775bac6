import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildRemoteCommand } from '../../activities/ssh/index.js';
import { detectSudoRefusal } from '../../activities/ssh/command.js';
import { processAlive, waitFor } from './sshdServer.js';

// The remote wrapper run locally, the way sshd runs it: the login shell's `-c`, in a new session,
// with the script on stdin.

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kboot-ssh-command-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the wrapper with `input` on stdin; stdin stays open until `closeStdin` is called. */
function startWrapper(input: Buffer, scriptBytes: number, timeoutMs: number) {
  const command = buildRemoteCommand({ sudo: false, scriptBytes, timeoutMs });
  const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.write(input);
  const exited = new Promise<Outcome>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited, closeStdin: () => child.stdin.end() };
}

describe('buildRemoteCommand', () => {
  test('command line holds only the wrapper and numbers', () => {
    const command = buildRemoteCommand({ sudo: true, scriptBytes: 1234, timeoutMs: 30_500 });

    expect(command.startsWith("exec sudo -n -- /bin/bash -c '")).toBe(true);
    expect(command.endsWith("' kboot-run 1234 36")).toBe(true);
    expect(buildRemoteCommand({ sudo: false, scriptBytes: 1, timeoutMs: 1 }).startsWith("exec /bin/bash -c '")).toBe(true);
  });

  test('exit status passed through', async () => {
    const script = Buffer.from('echo out; echo err >&2; exit 7\n');
    const run = startWrapper(script, script.length, 10_000);

    const outcome = await run.exited;

    expect(outcome).toEqual({ code: 7, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });

  test('death by signal passed through', async () => {
    const script = Buffer.from('kill -TERM $$\n');
    const run = startWrapper(script, script.length, 10_000);

    const outcome = await run.exited;

    expect(outcome.code).toBeNull();
    expect(outcome.signal).toBe('SIGTERM');
  });

  test('truncated script not run', async () => {
    const marker = join(dir, 'ran');
    const script = Buffer.from(`touch ${marker}\n# the rest never arrives\n`);
    const run = startWrapper(script.subarray(0, script.length - 10), script.length, 10_000);
    run.closeStdin();

    const outcome = await run.exited;

    expect(outcome.code).toBe(125);
    expect(outcome.stderr).toBe(`kboot: received ${script.length - 10} of ${script.length} script bytes, not running it\n`);
    expect(existsSync(marker)).toBe(false);
  });

  test('closed stdin kills the process group', async () => {
    const pidFile = join(dir, 'sleep.pid');
    const script = Buffer.from(`sleep 600 & echo $! > ${pidFile}; wait\n`);
    const run = startWrapper(script, script.length, 60_000);
    expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 5000)).toBe(true);
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));

    run.closeStdin();
    const outcome = await run.exited;

    expect(outcome.signal ?? outcome.code).not.toBe(0);
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
  });

  test('host-side timeout when the client stays silent', async () => {
    const script = Buffer.from('sleep 600\n');
    const startedAt = Date.now();
    // Client timeout 1 s: the host's own runs 5 s longer, then kills.
    const run = startWrapper(script, script.length, 1000);

    const outcome = await run.exited;
    run.closeStdin();

    expect(outcome.code).toBe(124);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(5500);
    expect(Date.now() - startedAt).toBeLessThan(9000);
  });

  test('finished script leaves its background jobs alone', async () => {
    // Only a script still running when the client goes is killed, not what it started and left.
    const pidFile = join(dir, 'daemon.pid');
    const script = Buffer.from(`(trap "" HUP; exec sleep 30) >/dev/null 2>&1 & echo $! > ${pidFile}\n`);
    const run = startWrapper(script, script.length, 10_000);

    const outcome = await run.exited;
    run.closeStdin();
    const daemonPid = Number(readFileSync(pidFile, 'utf8'));

    try {
      expect(outcome.code).toBe(0);
      expect(await waitFor(() => !processAlive(daemonPid), 1000)).toBe(false);
    } finally {
      process.kill(daemonPid, 'SIGKILL');
    }
  });
});

describe('detectSudoRefusal', () => {
  test.each([
    [1, 'sudo: a password is required\n', 'password'],
    [1, 'sudo: account validation failure, is your account locked?\nsudo: a password is required\n', 'password'],
    [1, 'sudo: a terminal is required to read the password; either use the -S option\n', 'password'],
    [1, 'sudo: sorry, you must have a tty to run sudo\n', 'tty'],
    [1, 'script output\nsudo: a password is required\n', undefined],
    [2, 'sudo: a password is required\n', undefined],
    [0, '', undefined],
  ] as const)('exit %s with %j', (exitCode, output, expected) => {
    expect(detectSudoRefusal(exitCode, output)).toBe(expected);
  });
});
