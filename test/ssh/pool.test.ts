import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SshConnectionLostError, SshPool } from '../../activities/ssh/index.js';
import type { SshLogger } from '../../activities/ssh/index.js';
import { TestSshd, descendantsOf, processAlive, sleep, waitFor } from './sshdServer.js';

let sshd: TestSshd;
const pools: SshPool[] = [];

function newPool(options: ConstructorParameters<typeof SshPool>[0] = {}): SshPool {
  const pool = new SshPool(options);
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  sshd = await TestSshd.start();
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

afterAll(async () => {
  await sshd?.stop();
});

function sshdPid(): number {
  return Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8'));
}

describe('SshPool connections', () => {
  test('sequential calls share one connection', async () => {
    const pool = newPool();
    const loginsBefore = sshd.acceptedLogins();
    const connectionsBefore = sshd.tcpConnections();

    for (let call = 0; call < 8; call++) {
      const result = await pool.run(sshd.endpoint(), `echo ${call}`, { timeoutMs: 10_000 });
      expect(result.stdout).toBe(`${call}\n`);
    }

    expect(sshd.acceptedLogins() - loginsBefore).toBe(1);
    expect(sshd.tcpConnections() - connectionsBefore).toBe(1);
  });

  test('concurrent first calls open one connection', async () => {
    const pool = newPool();
    const loginsBefore = sshd.acceptedLogins();

    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((call) => pool.run(sshd.endpoint(), `echo ${call}`, { timeoutMs: 10_000 })),
    );

    expect(results.map((result) => result.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n', '5\n']);
    expect(sshd.acceptedLogins() - loginsBefore).toBe(1);
  });

  test('channel bound queues the rest', async () => {
    const pool = newPool({ maxChannelsPerHost: 2 });
    const journal = join(sshd.dir, 'journal');
    const script = (call: number): string => `echo "start ${call}" >> ${journal}; sleep 0.5; echo "end ${call}" >> ${journal}; echo ${call}`;

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, call) => pool.run(sshd.endpoint(), script(call), { timeoutMs: 30_000 })),
    );

    expect(results.map((result) => result.exitCode)).toEqual(Array(10).fill(0));
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 10 }, (_, call) => `${call}\n`));
    let running = 0;
    let maxRunning = 0;
    for (const line of readFileSync(journal, 'utf8').trim().split('\n')) {
      running += line.startsWith('start') ? 1 : -1;
      maxRunning = Math.max(maxRunning, running);
    }
    expect(maxRunning).toBe(2);
  });

  test('abort while queued for a channel', async () => {
    const pool = newPool({ maxChannelsPerHost: 1 });
    const busy = pool.run(sshd.endpoint(), 'sleep 2; echo done', { timeoutMs: 10_000 });
    const controller = new AbortController();
    const queued = pool.run(sshd.endpoint(), 'echo never', { timeoutMs: 10_000, signal: controller.signal }).catch((caught: unknown) => caught);
    setTimeout(() => controller.abort(), 300);

    const error = await queued;

    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).message).toContain('aborted while waiting for a free session channel');
    expect((await busy).stdout).toBe('done\n');
  });

  test('close rejects calls queued for a channel', async () => {
    const pool = newPool({ maxChannelsPerHost: 1 });
    const busy = pool.run(sshd.endpoint(), 'sleep 30', { timeoutMs: 60_000 }).catch((caught: unknown) => caught);
    const queued = pool.run(sshd.endpoint(), 'echo never', { timeoutMs: 60_000 }).catch((caught: unknown) => caught);
    await sleep(1000);
    const loginsBefore = sshd.acceptedLogins();

    await pool.close();

    expect(await busy).toBeInstanceOf(SshConnectionLostError);
    expect((await queued as Error).message).toContain('the SSH pool is closed');
    expect(sshd.acceptedLogins()).toBe(loginsBefore);
  });

  test('reconnects after sshd restart', async () => {
    const pool = newPool();
    await pool.run(sshd.endpoint(), 'true', { timeoutMs: 10_000 });

    await sshd.restart();
    const result = await pool.run(sshd.endpoint(), 'echo again', { timeoutMs: 10_000 });

    expect(result.stdout).toBe('again\n');
    expect(sshd.acceptedLogins()).toBe(1);
  });

  test('connection lost while a script runs', async () => {
    const pool = newPool();
    const outcome = pool.run(sshd.endpoint(), 'echo started; sleep 30', { timeoutMs: 60_000 }).catch((caught: unknown) => caught);
    await sleep(1000);

    await sshd.restart();
    const error = await outcome;

    expect(error).toBeInstanceOf(SshConnectionLostError);
    expect((error as SshConnectionLostError).message).toMatch(/^run script on node1 \(127\.0\.0\.1:\d+\): connection lost/);
    expect((error as SshConnectionLostError).partial.stdout).toBe('started\n');
    const next = await pool.run(sshd.endpoint(), 'echo back', { timeoutMs: 10_000 });
    expect(next.stdout).toBe('back\n');
  });

  test('keepalive detects a silent host', async () => {
    const pool = newPool({ keepaliveIntervalMs: 300, keepaliveCountMax: 2 });
    const outcome = pool.run(sshd.endpoint(), 'sleep 20', { timeoutMs: 60_000 }).catch((caught: unknown) => caught);
    await sleep(1000);
    const frozen = descendantsOf(sshdPid());
    const startedAt = Date.now();

    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const error = await outcome;

      expect(error).toBeInstanceOf(SshConnectionLostError);
      expect(Date.now() - startedAt).toBeLessThan(5000);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGKILL');
    }
  });

  test('idle connection closed and reopened', async () => {
    const pool = newPool({ idleCloseMs: 300 });
    const loginsBefore = sshd.acceptedLogins();
    const disconnectsBefore = sshd.countLogLines('Disconnected from user root');
    await pool.run(sshd.endpoint(), 'true', { timeoutMs: 10_000 });

    expect(await waitFor(() => sshd.countLogLines('Disconnected from user root') > disconnectsBefore, 5000)).toBe(true);
    await pool.run(sshd.endpoint(), 'true', { timeoutMs: 10_000 });

    expect(sshd.acceptedLogins() - loginsBefore).toBe(2);
  });

  test('close kills running scripts and rejects new calls', async () => {
    const pool = newPool();
    const script = `sleep 600 & echo $! > ${sshd.dir}/close-sleep.pid; wait`;
    const outcome = pool.run(sshd.endpoint(), script, { timeoutMs: 60_000 }).catch((caught: unknown) => caught);
    const pidFile = join(sshd.dir, 'close-sleep.pid');
    expect(await waitFor(() => readIfExists(pidFile) !== '', 5000)).toBe(true);
    const sleepPid = Number(readIfExists(pidFile));

    await pool.close();

    expect(await outcome).toBeInstanceOf(SshConnectionLostError);
    expect(await waitFor(() => !processAlive(sleepPid), 3000)).toBe(true);
    await expect(pool.run(sshd.endpoint(), 'true', { timeoutMs: 1000 })).rejects.toThrow(/the SSH pool is closed/);
  });

  test('logger records opens and closes', async () => {
    const events: Array<[string, Record<string, unknown> | undefined]> = [];
    const logger: SshLogger = {
      info: (message, attributes) => events.push([message, attributes]),
      warn: (message, attributes) => events.push([message, attributes]),
    };
    const pool = newPool({ logger });

    await pool.run(sshd.endpoint(), 'true', { timeoutMs: 10_000 });
    await pool.close();

    expect(events[0]).toEqual(['SSH connection opened', expect.objectContaining({ host: 'node1', port: sshd.port })]);
    expect(events.map(([message]) => message)).toContain('SSH connection closed');
    expect(JSON.stringify(events)).not.toContain(sshd.clientKeyFile);
  });
});

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
