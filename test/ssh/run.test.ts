import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CommandAbortedError, CommandTimeoutError, SshPool } from '../../activities/ssh/index.js';
import { TestSshd, descendantsOf, processAlive, waitFor } from './sshdServer.js';

let sshd: TestSshd;
let pool: SshPool;

beforeAll(async () => {
  sshd = await TestSshd.start();
  pool = new SshPool();
});

afterAll(async () => {
  await pool?.close();
  await sshd?.stop();
});

function readPid(name: string): number {
  return Number(readFileSync(join(sshd.dir, name), 'utf8').trim());
}

describe('SshPool.run', () => {
  test('exit code zero with stdout', async () => {
    const result = await pool.run(sshd.endpoint(), 'echo hello\n', { timeoutMs: 10_000 });

    expect(result.exitCode).toBe(0);
    expect(result.signal).toBeNull();
    expect(result.stdout).toBe('hello\n');
    expect(result.stderr).toBe('');
    expect(result.stdoutOmittedBytes).toBe(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  test('non-zero exit code with stderr', async () => {
    const result = await pool.run(sshd.endpoint(), 'echo out; echo err >&2; exit 3', { timeoutMs: 10_000 });

    expect(result.exitCode).toBe(3);
    expect(result.signal).toBeNull();
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toBe('err\n');
  });

  test('script text reaches bash verbatim', async () => {
    const script = [
      `printf '%s\\n' "it's \\"quoted\\" \\$HOME \\\\ back"`,
      "cat <<'EOF'",
      '$(not run) `not run` ; | & > <',
      'EOF',
      'echo "héllo wörld ✓"',
    ].join('\n');

    const result = await pool.run(sshd.endpoint(), script, { timeoutMs: 10_000 });

    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`it's "quoted" $HOME \\ back\n$(not run) \`not run\` ; | & > <\nhéllo wörld ✓\n`);
    expect(result.exitCode).toBe(0);
  });

  test('script text never on a command line', async () => {
    // pkill -f matches command lines: it would kill the shell if the script were on one.
    const script = 'sleep 1 # kboot-marker-7f3a\npkill -f kboot-marker-7f3a; echo "pkill exit $?"\n';
    const cmdlines: string[] = [];
    const running = pool.run(sshd.endpoint(), script, { timeoutMs: 10_000 });
    await waitFor(() => {
      const sshdPid = Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8'));
      for (const pid of descendantsOf(sshdPid)) {
        try {
          cmdlines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
        } catch {
          // The process ended between listing and reading.
        }
      }
      return cmdlines.some((line) => line.includes('sleep 1'));
    }, 5000);

    const result = await running;

    expect(cmdlines.some((line) => line.startsWith('/bin/bash -s'))).toBe(true);
    expect(cmdlines.filter((line) => line.includes('kboot-marker-7f3a'))).toEqual([]);
    expect(result.stdout).toBe('pkill exit 1\n');
    expect(result.exitCode).toBe(0);
  });

  test('output bounded keeping head and tail', async () => {
    const script = 'echo START; head -c 100000 /dev/zero | tr "\\0" a; echo; echo END; head -c 5000 /dev/zero | tr "\\0" e >&2';

    const result = await pool.run(sshd.endpoint(), script, { timeoutMs: 10_000, maxOutputBytes: 1024 });

    const totalStdout = 'START\n'.length + 100_000 + 1 + 'END\n'.length;
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(1024);
    expect(result.stdout.startsWith('START\naaa')).toBe(true);
    expect(result.stdout.endsWith('aaa\nEND\n')).toBe(true);
    expect(result.stdout).toContain(`[... ${result.stdoutOmittedBytes} bytes omitted ...]`);
    const keptBytes = Buffer.byteLength(result.stdout.replace(/\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/, ''));
    expect(keptBytes + result.stdoutOmittedBytes).toBe(totalStdout);
    expect(Buffer.byteLength(result.stderr)).toBeLessThanOrEqual(1024);
    expect(result.stderrOmittedBytes).toBeGreaterThan(5000 - 1024);
  });

  test('multibyte output and CRLF decoded', async () => {
    const script = 'printf "line one\\r\\nline two\\r\\n"; for i in $(seq 1 30000); do printf "é"; done';

    const result = await pool.run(sshd.endpoint(), script, { timeoutMs: 20_000, maxOutputBytes: 1024 * 1024 });

    expect(result.stdout).toBe(`line one\nline two\n${'é'.repeat(30_000)}`);
  });

  test('bounded multibyte output cut on character boundaries', async () => {
    const script = 'for i in $(seq 1 3000); do printf "€"; done';

    const result = await pool.run(sshd.endpoint(), script, { timeoutMs: 20_000, maxOutputBytes: 1001 });

    expect(result.stdout).not.toContain('\uFFFD');
    const kept = result.stdout.replace(/\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/, '');
    expect(kept).toMatch(/^€+$/);
    expect(Buffer.byteLength(kept) + result.stdoutOmittedBytes).toBe(9000);
  });

  test('script killed by a signal', async () => {
    const result = await pool.run(sshd.endpoint(), 'echo before; kill -TERM $$; echo after', { timeoutMs: 10_000 });

    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('TERM');
    expect(result.stdout).toBe('before\n');
  });

  test('background job holding stdout does not hold the call', async () => {
    const startedAt = Date.now();

    const result = await pool.run(sshd.endpoint(), 'echo started; sleep 4 &', { timeoutMs: 20_000 });

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('started\n');
    expect(Date.now() - startedAt).toBeLessThan(3900);
  });

  test('timeout kills the remote process group', async () => {
    const script = `echo started; sleep 600 & echo $! > ${sshd.dir}/sleep.pid; wait`;
    const startedAt = Date.now();

    const error = await pool.run(sshd.endpoint(), script, { timeoutMs: 1500 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CommandTimeoutError);
    const timeout = error as CommandTimeoutError;
    expect(timeout.message).toMatch(/^run script on node1 \(127\.0\.0\.1:\d+\): timed out after 1\.5 s/);
    expect(timeout.nonRetryable).toBe(false);
    expect(timeout.partial.stdout).toBe('started\n');
    expect(Date.now() - startedAt).toBeLessThan(4000);
    const sleepPid = readPid('sleep.pid');
    // Well before the host's own timeout (1.5 s + 5 s): the closed channel triggered the kill.
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
  });

  test('abort closes the channel and kills the script', async () => {
    const controller = new AbortController();
    const script = `sleep 600 & echo $! > ${sshd.dir}/abort-sleep.pid; wait`;
    const running = pool.run(sshd.endpoint(), script, { timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 700);

    const error = await running.catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CommandAbortedError);
    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).message).toMatch(/^run script on node1 \(127\.0\.0\.1:\d+\): aborted while the script ran/);
    const sleepPid = readPid('abort-sleep.pid');
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
  });

  test('aborted signal rejects before connecting', async () => {
    const controller = new AbortController();
    controller.abort();
    const loginsBefore = sshd.acceptedLogins();

    const error = await pool
      .run(sshd.endpoint({ port: sshd.port }), 'echo never', { timeoutMs: 10_000, signal: controller.signal })
      .catch((caught: unknown) => caught);

    expect((error as Error).name).toBe('AbortError');
    expect(sshd.acceptedLogins()).toBe(loginsBefore);
  });

  test('onActivity on output and every 5 s', async () => {
    const calls: number[] = [];
    const startedAt = Date.now();

    await pool.run(sshd.endpoint(), 'echo one; sleep 6; echo two', {
      timeoutMs: 20_000,
      onActivity: () => calls.push(Date.now() - startedAt),
    });

    // One call for each output line and at least one from the 5 s timer in between.
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.some((at) => at >= 4500 && at <= 5800)).toBe(true);
  });

  test('sudo runs the script as root', async () => {
    const result = await pool.run(sshd.endpoint({ sudo: true }), 'id -u; echo "$SUDO_USER"', { timeoutMs: 10_000 });

    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0\nroot\n');
    expect(result.exitCode).toBe(0);
  });

  test('invalid options rejected before connecting', async () => {
    await expect(pool.run(sshd.endpoint(), 'echo', { timeoutMs: 0 })).rejects.toThrow(/invalid timeoutMs 0/);
    await expect(pool.run(sshd.endpoint(), 'echo \0', { timeoutMs: 1000 })).rejects.toThrow(/NUL byte/);
    await expect(pool.run(sshd.endpoint({ port: 70_000 }), 'echo', { timeoutMs: 1000 })).rejects.toThrow(/endpoint\.port must be/);
  });
});
