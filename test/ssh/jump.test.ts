import { SshConnectError, SshPool } from '../../activities/ssh/index.js';
import type { SshEndpoint } from '../../activities/ssh/index.js';
import { TestSshd } from './sshdServer.js';

// One sshd plays both parts: the bastion, and the host reached from it over a direct-tcpip tunnel.
let sshd: TestSshd;
let pool: SshPool;

beforeAll(async () => {
  sshd = await TestSshd.start();
});

beforeEach(() => {
  pool = new SshPool();
});

afterEach(async () => {
  await pool.close();
});

afterAll(async () => {
  await sshd?.stop();
});

/** node2 at 127.0.0.1 through the bastion at localhost: two addresses, so two pool keys. */
function throughBastion(overrides: Partial<SshEndpoint> = {}): SshEndpoint {
  const { sudo: _sudo, tty: _tty, jump: _jump, ...bastion } = sshd.endpoint({
    host: 'bastion',
    address: 'localhost',
    knownHostsFile: undefined,
    fingerprints: [sshd.hostKeyFingerprint()],
  });
  return sshd.endpoint({ host: 'node2', jump: bastion, ...overrides });
}

describe('bastion', () => {
  test('runs through the bastion, both connections reused', async () => {
    const loginsBefore = sshd.acceptedLogins();

    for (let call = 0; call < 3; call++) {
      const result = await pool.run(throughBastion(), 'echo "$SSH_CONNECTION"', { timeoutMs: 10_000 });
      // The tunnelled session comes from the bastion itself, on the loopback address.
      expect(result.stdout).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n$/);
    }

    expect(sshd.acceptedLogins() - loginsBefore).toBe(2);
  });

  test('tunnelled and direct connections kept apart', async () => {
    const loginsBefore = sshd.acceptedLogins();

    await pool.run(throughBastion(), 'true', { timeoutMs: 10_000 });
    await pool.run(sshd.endpoint({ host: 'node2' }), 'true', { timeoutMs: 10_000 });

    // The bastion, node2 through it, and node2 directly: the same address on another route.
    expect(sshd.acceptedLogins() - loginsBefore).toBe(3);
  });

  test('unreachable target named with the bastion', async () => {
    const error = await pool
      .run(throughBastion({ port: 1 }), 'true', { timeoutMs: 10_000 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).reason).toBe('unreachable');
    expect((error as Error).message).toMatch(
      /^connect to node2 \(127\.0\.0\.1:1\): bastion bastion \(localhost:\d+\) cannot reach 127\.0\.0\.1:1: /,
    );
  });

  test('unreachable bastion reported as such', async () => {
    const endpoint = throughBastion();
    endpoint.jump = { ...endpoint.jump!, port: 1 };

    const error = await pool.run(endpoint, 'true', { timeoutMs: 10_000 }).catch((caught: unknown) => caught);

    expect((error as SshConnectError).reason).toBe('refused');
    expect((error as Error).message).toMatch(/^connect to bastion \(localhost:1\): connection refused/);
  });
});
