/**
 * The SSH layer with a sudo password on real sandbox hosts. The password goes to `sudo -S` only
 * after sudo prompts for it, never into the script or the output. A wrong or missing password
 * fails at once without running anything.
 */
import {
  SshConnectError,
  SshPool,
  SUDO_PROMPT,
  SudoPasswordRejectedError,
  SudoPasswordRequiredError,
  type SshEndpoint,
} from '../../activities/ssh/index.js';
import { down, up, type UpResult } from '../../sandbox/fleet/index';
import { REPO_ROOT } from '../helpers/kboot';
import { addressOf, onHost, setSudoers, setUserPassword } from './fleet-setup';

const FLEET = 'secsudo';
const PASSWORD = 'pw-Sudo;$(touch /tmp/owned)`x`';
const PASSWORD_ENV = 'KBOOT_TEST_SUDO_PASSWORD';

jest.setTimeout(180_000);

let fleet: UpResult;
let pool: SshPool;

/** sudo on master requires the password, node1 also requires a tty, node2 keeps passwordless sudo. */
beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: 3, repoRoot: REPO_ROOT });
  for (const host of ['master', 'node1']) await setUserPassword(FLEET, host, PASSWORD);
  await setSudoers(FLEET, 'master', ['kboot ALL=(ALL:ALL) ALL']);
  await setSudoers(FLEET, 'node1', ['Defaults:kboot requiretty', 'kboot ALL=(ALL:ALL) ALL']);
  pool = new SshPool();
});

afterAll(async () => {
  await pool?.close();
  delete process.env[PASSWORD_ENV];
  if (fleet !== undefined) await down(FLEET);
});

beforeEach(() => {
  process.env[PASSWORD_ENV] = PASSWORD;
});

function endpoint(host: string, overrides: Partial<SshEndpoint> = {}): SshEndpoint {
  return {
    host,
    address: addressOf(fleet, host),
    port: 22,
    user: 'kboot',
    privateKeyFile: fleet.privateKeyFile,
    knownHostsFile: fleet.knownHostsFile,
    sudo: true,
    sudoPasswordEnv: PASSWORD_ENV,
    connectTimeoutMs: 10_000,
    ...overrides,
  };
}

describe('sudo password', () => {
  test('password runs the script as root', async () => {
    const result = await pool.run(endpoint('master'), 'id -u\necho "$SUDO_USER"\necho to-stderr >&2\n', { timeoutMs: 20_000 });

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('0\nkboot\n');
    expect(result.stderr).toBe('to-stderr\n');
  });

  test('output carries no prompt or password', async () => {
    const result = await pool.run(endpoint('master'), 'true', { timeoutMs: 20_000 });

    expect(result.stdout + result.stderr).not.toContain(SUDO_PROMPT);
    expect(result.stdout + result.stderr).not.toContain('sudo ready');
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  test('requiretty host runs with a tty', async () => {
    const result = await pool.run(endpoint('node1', { tty: true }), 'id -u\necho merged >&2\n', { timeoutMs: 20_000 });

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('0\nmerged\n');
    expect(result.stdout).not.toContain(PASSWORD);
  });

  test('passwordless host ignores the password', async () => {
    const result = await pool.run(endpoint('node2'), 'id -u', { timeoutMs: 20_000 });

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('0\n');
  });

  test('wrong password rejected, script not run', async () => {
    process.env[PASSWORD_ENV] = 'not-the-password';
    const startedAt = Date.now();

    const error = await pool
      .run(endpoint('master'), 'touch /root/ran-with-wrong-password', { timeoutMs: 60_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SudoPasswordRejectedError);
    expect((error as SudoPasswordRejectedError).nonRetryable).toBe(true);
    expect((error as Error).message).toContain(`sudo rejected the password from ${PASSWORD_ENV} for user kboot`);
    expect((error as Error).message).not.toContain('not-the-password');
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(await onHost(FLEET, 'master', 'ls /root')).not.toContain('ran-with-wrong-password');
  });

  test('unset variable fails before connecting', async () => {
    delete process.env[PASSWORD_ENV];

    const error = await pool.run(endpoint('master'), 'true', { timeoutMs: 20_000 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).nonRetryable).toBe(true);
    expect((error as Error).message).toContain(`environment variable ${PASSWORD_ENV} (sudoPasswordEnv) is not set on the worker`);
  });

  test('no password configured fails fast', async () => {
    const startedAt = Date.now();

    const error = await pool
      .run(endpoint('master', { sudoPasswordEnv: undefined }), 'touch /root/ran-without-password', { timeoutMs: 60_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SudoPasswordRequiredError);
    expect((error as Error).message).toContain('sudo needs a password for user kboot');
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(await onHost(FLEET, 'master', 'ls /root')).not.toContain('ran-without-password');
  });
});
