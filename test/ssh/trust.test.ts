import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';

import {
  HostKeyMismatchError,
  HostKeyUnknownError,
  SshConnectError,
  SshPool,
  findKnownHostKeys,
} from '../../activities/ssh/index.js';
import { TestSshd } from './sshdServer.js';

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

function writeKnownHosts(name: string, content: string): string {
  const file = join(sshd.dir, name);
  writeFileSync(file, content);
  return file;
}

function hostKeyLine(): string {
  const [keyType, keyBase64] = readFileSync(sshd.knownHostsFile, 'utf8').trim().split(' ').slice(1);
  return `${keyType} ${keyBase64}`;
}

async function runError(endpointOverrides: Parameters<TestSshd['endpoint']>[0]): Promise<unknown> {
  return pool.run(sshd.endpoint(endpointOverrides), 'echo reached', { timeoutMs: 10_000 }).catch((caught: unknown) => caught);
}

describe('host key checking', () => {
  test('known_hosts entry accepted', async () => {
    const result = await pool.run(sshd.endpoint(), 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });

  test('hashed known_hosts entry accepted', async () => {
    const file = writeKnownHosts('known_hosts_hashed', `[127.0.0.1]:${sshd.port} ${hostKeyLine()}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);

    const result = await pool.run(sshd.endpoint({ knownHostsFile: file }), 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });

  test('wildcard pattern accepted', async () => {
    const file = writeKnownHosts('known_hosts_wildcard', `other.example,[127.0.0.*]:${sshd.port} ${hostKeyLine()}\n`);

    const result = await pool.run(sshd.endpoint({ knownHostsFile: file }), 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });

  test('unknown host rejected', async () => {
    const file = writeKnownHosts('known_hosts_other', `[127.0.0.2]:${sshd.port} ${hostKeyLine()}\n`);

    const error = await runError({ knownHostsFile: file });

    expect(error).toBeInstanceOf(HostKeyUnknownError);
    const unknown = error as HostKeyUnknownError;
    expect(unknown.nonRetryable).toBe(true);
    expect(unknown.presentedFingerprint).toBe(sshd.hostKeyFingerprint());
    expect(unknown.message).toMatch(/^connect to node1 \(127\.0\.0\.1:\d+\): host key unknown: no entry for \[127\.0\.0\.1\]:\d+ in /);
    expect(unknown.message).toContain(sshd.hostKeyFingerprint());
    expect(unknown.message).toContain('kboot trust <spec>');
  });

  test('bare address does not cover another port', async () => {
    // OpenSSH looks up [address]:port for any port but 22, so a bare entry is for port 22 only.
    const file = writeKnownHosts('known_hosts_bare', `127.0.0.1 ${hostKeyLine()}\n`);

    expect(await runError({ knownHostsFile: file })).toBeInstanceOf(HostKeyUnknownError);
  });

  test('negated pattern rejected', async () => {
    const file = writeKnownHosts('known_hosts_negated', `[127.0.0.*]:${sshd.port},![127.0.0.1]:${sshd.port} ${hostKeyLine()}\n`);

    expect(await runError({ knownHostsFile: file })).toBeInstanceOf(HostKeyUnknownError);
  });

  test('marker lines ignored', async () => {
    const file = writeKnownHosts('known_hosts_marker', `@cert-authority [127.0.0.1]:${sshd.port} ${hostKeyLine()}\n`);

    expect(await runError({ knownHostsFile: file })).toBeInstanceOf(HostKeyUnknownError);
  });

  test('nothing to trust rejected', async () => {
    const error = await runError({ knownHostsFile: undefined });

    expect(error).toBeInstanceOf(HostKeyUnknownError);
    expect((error as Error).message).toContain('no knownHostsFile and no pinned fingerprints are configured');
  });

  test('missing known_hosts file reported', async () => {
    const error = await runError({ knownHostsFile: join(sshd.dir, 'no-such-file') });

    expect(error).toBeInstanceOf(HostKeyUnknownError);
    expect((error as Error).message).toContain('(ENOENT)');
  });

  test('pinned fingerprint accepted', async () => {
    const endpoint = sshd.endpoint({ knownHostsFile: undefined, fingerprints: [sshd.hostKeyFingerprint()] });

    const result = await pool.run(endpoint, 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });

  test('wrong pinned fingerprint rejected', async () => {
    const pinned = 'SHA256:' + 'A'.repeat(43);

    const error = await runError({ knownHostsFile: undefined, fingerprints: [pinned] });

    expect(error).toBeInstanceOf(HostKeyMismatchError);
    const mismatch = error as HostKeyMismatchError;
    expect(mismatch.expectedFingerprints).toEqual([pinned]);
    expect(mismatch.presentedFingerprint).toBe(sshd.hostKeyFingerprint());
    expect(mismatch.message).toContain('remove the old fingerprint from the spec, then run kboot trust <spec>');
  });

  test('malformed pinned fingerprint rejected', async () => {
    const error = await runError({ knownHostsFile: undefined, fingerprints: ['MD5:aa:bb'] });

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).reason).toBe('config');
    expect((error as Error).message).toContain('invalid pinned fingerprint "MD5:aa:bb"');
  });

  test('re-keyed host rejected as mismatch', async () => {
    const oldFingerprint = sshd.hostKeyFingerprint();
    await sshd.restart({ newHostKey: true });
    const newFingerprint = sshd.hostKeyFingerprint();
    expect(newFingerprint).not.toBe(oldFingerprint);

    const error = await runError({});

    expect(error).toBeInstanceOf(HostKeyMismatchError);
    const mismatch = error as HostKeyMismatchError;
    expect(mismatch.nonRetryable).toBe(true);
    expect(mismatch.expectedFingerprints).toEqual([oldFingerprint]);
    expect(mismatch.presentedFingerprint).toBe(newFingerprint);
    expect(mismatch.message).toMatch(/^connect to node1 \(127\.0\.0\.1:\d+\): host key mismatch: expected /);
    expect(mismatch.message).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${sshd.knownHostsFile}`);
    expect(mismatch.message).toContain('kboot trust <spec>');
    expect(sshd.acceptedLogins()).toBe(0);

    // Re-pinning the new key lets the host back in.
    writeFileSync(sshd.knownHostsFile, `[127.0.0.1]:${sshd.port} ${readFileSync(join(sshd.dir, 'host_ed25519_key.pub'), 'utf8')}`);
    const result = await pool.run(sshd.endpoint(), 'echo reached', { timeoutMs: 10_000 });
    expect(result.stdout).toBe('reached\n');
  });
});

describe('host key type negotiation', () => {
  let dualKeyed: TestSshd;

  beforeAll(async () => {
    dualKeyed = await TestSshd.start({ rsaHostKey: true });
  });

  afterAll(async () => {
    await dualKeyed?.stop();
  });

  test('host offers the key type known_hosts lists', async () => {
    // Without a preference ssh2 picks Ed25519 first, which this known_hosts does not list.
    const [keyType, keyBase64] = readFileSync(dualKeyed.rsaHostPublicKeyFile, 'utf8').split(' ');
    const file = join(dualKeyed.dir, 'known_hosts_rsa_only');
    writeFileSync(file, `[127.0.0.1]:${dualKeyed.port} ${keyType} ${keyBase64}\n`);

    const result = await pool.run(dualKeyed.endpoint({ knownHostsFile: file }), 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });
});

describe('client authentication and connect failures', () => {
  test('passphrase-protected key from env', async () => {
    const keyFile = join(sshd.dir, 'encrypted_key');
    const passphrase = 'correct horse battery staple';
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', keyFile], { stdio: 'ignore' });
    appendFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(`${keyFile}.pub`));
    process.env.KBOOT_TEST_PASSPHRASE = passphrase;
    const endpoint = sshd.endpoint({ privateKeyFile: keyFile, passphraseEnv: 'KBOOT_TEST_PASSPHRASE' });

    const result = await pool.run(endpoint, 'echo reached', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('reached\n');
  });

  test('missing or wrong passphrase reported without secrets', async () => {
    const keyFile = join(sshd.dir, 'encrypted_key_2');
    const passphrase = 'tr0ub4dor&3-secret';
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', keyFile], { stdio: 'ignore' });
    const keyText = readFileSync(keyFile, 'utf8');
    delete process.env.KBOOT_TEST_UNSET;
    process.env.KBOOT_TEST_WRONG = 'not-the-passphrase';

    const noEnv = await runError({ privateKeyFile: keyFile });
    const unsetEnv = await runError({ privateKeyFile: keyFile, passphraseEnv: 'KBOOT_TEST_UNSET' });
    const wrong = await runError({ privateKeyFile: keyFile, passphraseEnv: 'KBOOT_TEST_WRONG' });

    expect((noEnv as Error).message).toContain('the private key is encrypted and no passphraseEnv is set');
    expect((unsetEnv as Error).message).toContain('environment variable KBOOT_TEST_UNSET (passphraseEnv) is not set');
    expect((wrong as Error).message).toContain('cannot decrypt the private key with the passphrase from KBOOT_TEST_WRONG');
    for (const error of [noEnv, unsetEnv, wrong]) {
      expect(error).toBeInstanceOf(SshConnectError);
      expect((error as SshConnectError).reason).toBe('config');
      const text = `${(error as Error).message} ${(error as Error).stack} ${JSON.stringify(error)}`;
      expect(text).not.toContain(keyFile);
      expect(text).not.toContain(passphrase);
      expect(text).not.toContain('not-the-passphrase');
      expect(text).not.toContain(keyText.split('\n')[1]);
    }
  });

  test('unreadable key file reported without its path', async () => {
    const missing = join(sshd.dir, 'no-such-key');

    const error = await runError({ privateKeyFile: missing });

    expect((error as SshConnectError).reason).toBe('config');
    expect((error as Error).message).toContain('cannot read the private key file set in privateKeyFile (ENOENT)');
    expect((error as Error).message).not.toContain(missing);
  });

  test('unauthorized key fails authentication', async () => {
    const keyFile = join(sshd.dir, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile], { stdio: 'ignore' });

    const error = await runError({ privateKeyFile: keyFile });

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).reason).toBe('auth-failed');
    expect((error as SshConnectError).nonRetryable).toBe(true);
    expect((error as Error).message).toMatch(/^connect to node1 \(127\.0\.0\.1:\d+\): authentication failed for user root/);
  });

  test('closed port refused', async () => {
    const closedPort = await withListener(async (server) => (server.address() as { port: number }).port);

    const error = await runError({ port: closedPort, host: 'node2' });

    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).reason).toBe('refused');
    expect((error as SshConnectError).nonRetryable).toBe(false);
    expect((error as Error).message).toMatch(new RegExp(`^connect to node2 \\(127\\.0\\.0\\.1:${closedPort}\\): connection refused`));
  });

  test('silent server times out', async () => {
    await withListener(async (server) => {
      const port = (server.address() as { port: number }).port;
      const startedAt = Date.now();

      const error = await runError({ port, connectTimeoutMs: 700 });

      expect((error as SshConnectError).reason).toBe('timed-out');
      expect((error as Error).message).toContain('timed out after 700 ms');
      expect(Date.now() - startedAt).toBeLessThan(3000);
    });
  });
});

describe('findKnownHostKeys', () => {
  test('plain, hashed and commented lines', () => {
    const [keyType, keyBase64] = hostKeyLine().split(' ');
    const hashedFile = writeKnownHosts('known_hosts_parse', `node9.example ${keyType} ${keyBase64}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', hashedFile], { stdio: 'ignore' });
    const text = [
      '# comment',
      '',
      `node1.example,10.0.0.1 ${keyType} ${keyBase64} comment here`,
      readFileSync(hashedFile, 'utf8').trim(),
      `@revoked * ${keyType} ${keyBase64}`,
      'node1.example ssh-ed25519 not-base64',
    ].join('\n');

    expect(findKnownHostKeys(text, '10.0.0.1').map((key) => key.source)).toEqual(['known_hosts line 3']);
    expect(findKnownHostKeys(text, 'NODE1.example')).toHaveLength(1);
    expect(findKnownHostKeys(text, 'node9.example').map((key) => key.source)).toEqual(['known_hosts line 4']);
    expect(findKnownHostKeys(text, 'node2.example')).toEqual([]);
    expect(findKnownHostKeys(text, '10.0.0.1')[0].fingerprint).toBe(sshd.hostKeyFingerprint());
  });
});

/** Runs `body` with a TCP listener on 127.0.0.1 that accepts and never replies, then closes it. */
async function withListener<T>(body: (server: Server) => Promise<T>): Promise<T> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body(server);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
