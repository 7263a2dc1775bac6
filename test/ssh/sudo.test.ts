import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CommandTimeoutError, SshPool, SudoPasswordRequiredError, SudoTtyRequiredError } from '../../activities/ssh/index.js';
import { TestSshd, processAlive, waitFor } from './sshdServer.js';

// Sudo setups seen on real fleets, one user each, in the sshd's private /etc/sudoers. kbootraw has
// requiretty as older sudo has it, without use_pty: the script then runs on kboot's own terminal.
const SUDOERS = [
  'Defaults env_reset',
  'Defaults use_pty',
  'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
  'Defaults:kboottty requiretty',
  'Defaults:kbootraw requiretty, !use_pty',
  'root ALL=(ALL:ALL) ALL',
  'kbootnp ALL=(ALL:ALL) NOPASSWD: ALL',
  'kboottty ALL=(ALL:ALL) NOPASSWD: ALL',
  'kbootpw ALL=(ALL:ALL) ALL',
  'kbootraw ALL=(ALL:ALL) NOPASSWD: ALL',
  '',
].join('\n');

let sshd: TestSshd;
let pool: SshPool;

beforeAll(async () => {
  sshd = await TestSshd.start({
    users: [
      { name: 'kbootnp', uid: 42_401 },
      { name: 'kboottty', uid: 42_402 },
      { name: 'kbootpw', uid: 42_403 },
      { name: 'kbootraw', uid: 42_404 },
    ],
    sudoers: SUDOERS,
  });
  pool = new SshPool();
});

afterAll(async () => {
  await pool?.close();
  await sshd?.stop();
});

describe('sudo', () => {
  test('plain user without sudo', async () => {
    const result = await pool.run(sshd.endpoint({ user: 'kbootnp' }), 'id -un', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('kbootnp\n');
    expect(result.exitCode).toBe(0);
  });

  test('passwordless sudo runs as root', async () => {
    const result = await pool.run(sshd.endpoint({ user: 'kbootnp', sudo: true }), 'id -u; echo "$SUDO_USER"; exit 4', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('0\nkbootnp\n');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(4);
  });

  test('sudo asking for a password fails fast', async () => {
    const startedAt = Date.now();

    const error = await pool
      .run(sshd.endpoint({ user: 'kbootpw', sudo: true }), 'echo should-not-run', { timeoutMs: 30_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SudoPasswordRequiredError);
    const refusal = error as SudoPasswordRequiredError;
    expect(refusal.nonRetryable).toBe(true);
    expect(refusal.message).toMatch(/^run script on node1 \(127\.0\.0\.1:\d+\): sudo needs a password for user kbootpw/);
    expect(refusal.result.stdout).toBe('');
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  test('requiretty without tty reported', async () => {
    const error = await pool
      .run(sshd.endpoint({ user: 'kboottty', sudo: true }), 'echo should-not-run', { timeoutMs: 30_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SudoTtyRequiredError);
    expect((error as Error).message).toContain('set tty: true for this host');
  });

  test.each(['kboottty', 'kbootraw'])('requiretty with tty runs as root (%s)', async (user) => {
    const script = 'id -u\necho "to stderr" >&2\nprintf "crlf\\r\\n"\nexit 6\n';

    const result = await pool.run(sshd.endpoint({ user, sudo: true, tty: true }), script, { timeoutMs: 10_000 });

    // The terminal merges stderr into stdout.
    expect(result.stdout).toBe('0\nto stderr\ncrlf\n');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(6);
  });

  test.each(['kboottty', 'kbootraw'])('tty script receives control bytes unchanged (%s)', async (user) => {
    // Bytes a cooked terminal would act on: ^C, ^D, ^Z, ^S, ^\, CR, and a line longer than its 4 KiB buffer.
    const payload = 'a\u0003b\u0004c\u001ad\u0013e\u001cf\rg' + 'x'.repeat(5000);
    const script = `cat <<'EOF' | od -An -c | tr -s ' \\n' ' '\n${payload}\nEOF\n`;

    const result = await pool.run(sshd.endpoint({ user, sudo: true, tty: true }), script, { timeoutMs: 10_000 });

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('a 003 b 004 c 032 d 023 e 034 f \\r g x x');
  });

  test('tty timeout kills the remote script', async () => {
    const pidFile = join(sshd.dir, 'home', 'tty-sleep.pid');
    const script = `sleep 600 & echo $! > ${pidFile}; wait`;

    const error = await pool
      .run(sshd.endpoint({ user: 'kboottty', sudo: true, tty: true }), script, { timeoutMs: 1500 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CommandTimeoutError);
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
  });

  test('sudo timeout kills the root script', async () => {
    const pidFile = join(sshd.dir, 'home', 'sudo-sleep.pid');
    const script = `sleep 600 & echo $! > ${pidFile}; wait`;

    const error = await pool
      .run(sshd.endpoint({ user: 'kbootnp', sudo: true }), script, { timeoutMs: 1500 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CommandTimeoutError);
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
  });
});
