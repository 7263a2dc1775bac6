/**
 * What runRemote puts into workflow history when a script fails: at most MAX_OUTPUT_BYTES per
 * stream, head and tail kept, and a note in the error message of how much was cut. Runs against
 * the SSH layer's test sshd, inside a mock activity context.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

import { boundStream, MAX_OUTPUT_BYTES, omissionNote, redact, REDACTED, runRemote, secretValues } from '../../activities/remote';
import { SshPool, type SshEndpoint } from '../../activities/ssh/index';
import { TestSshd } from '../ssh/sshdServer';

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

/** A script that writes `stdoutBytes` and `stderrBytes` bytes, with marked first and last lines, then fails. */
function floodingScript(stdoutBytes: number, stderrBytes: number): string {
  const flood = (bytes: number, name: string, redirect: string): string =>
    `{ echo FIRST-${name}; head -c ${bytes} /dev/zero | tr '\\0' x; echo; echo LAST-${name}; } ${redirect}`;
  return `${flood(stdoutBytes, 'OUT', '')}\n${flood(stderrBytes, 'ERR', '>&2')}\nexit 1\n`;
}

async function failureOf(endpoint: SshEndpoint, script: string, maxOutputBytes?: number): Promise<ApplicationFailure> {
  const error = await new MockActivityEnvironment()
    .run(() => runRemote(pool, endpoint, script, { action: 'flood on node1', timeoutMs: 30_000, maxOutputBytes }))
    .catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('bounded output in errors', () => {
  test.each([
    ['default bound', undefined],
    ['large parse bound', 4 * 1024 * 1024],
  ])('%s keeps each stream bounded', async (_name, maxOutputBytes) => {
    const failure = await failureOf(sshd.endpoint(), floodingScript(100_000, 50_000), maxOutputBytes);
    const details = failure.details?.[0] as { stdout: string; stderr: string };

    for (const [stream, text] of [['OUT', details.stdout], ['ERR', details.stderr]] as const) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES + 64);
      expect(text.startsWith(`FIRST-${stream}\n`)).toBe(true);
      expect(text.endsWith(`LAST-${stream}\n`)).toBe(true);
      expect(text).toMatch(/\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/);
    }
    expect(failure.message).toMatch(/\(output cut: \d+ bytes of stdout and \d+ bytes of stderr omitted from the middle; at most 8192 bytes per stream are kept\)/);
  });

  test('note counts the bytes cut', async () => {
    const failure = await failureOf(sshd.endpoint(), floodingScript(100_000, 10));
    const details = failure.details?.[0] as { stdout: string; stderr: string };
    const omitted = Number(/(\d+) bytes of stdout/.exec(failure.message)?.[1]);
    const kept = Buffer.byteLength(details.stdout.replace(/\n\[\.\.\. \d+ bytes omitted \.\.\.\]\n/, ''));

    // FIRST-OUT, newline, 100000 x, newline, LAST-OUT, newline.
    expect(omitted + kept).toBe(10 + 100_000 + 1 + 9);
    expect(failure.message).not.toContain('bytes of stderr');
  });

  test('small output keeps no note', async () => {
    const failure = await failureOf(sshd.endpoint(), 'echo fine; echo broken >&2; exit 2');

    expect(failure.message).toBe('flood on node1: exit code 2: broken');
    expect(failure.details?.[0]).toMatchObject({ exitCode: 2, stdout: 'fine\n', stderr: 'broken\n' });
  });
});

describe('output helpers', () => {
  test('boundStream keeps short text', () => {
    expect(boundStream('short', 0)).toEqual({ text: 'short', omittedBytes: 0 });
    expect(boundStream('short', 7)).toEqual({ text: 'short', omittedBytes: 7 });
  });

  test('boundStream cuts multi-byte text cleanly', () => {
    const text = 'ä'.repeat(10_000);
    const bounded = boundStream(text, 0, 1000);

    expect(bounded.text).not.toContain('\uFFFD');
    expect(Buffer.byteLength(bounded.text)).toBeLessThanOrEqual(1000 + 40);
    expect(bounded.omittedBytes).toBe(20_000 - Buffer.byteLength(bounded.text.replace(/\n\[.*\]\n/, '')));
  });

  test('omissionNote names both streams', () => {
    expect(omissionNote({ text: '', omittedBytes: 0 }, { text: '', omittedBytes: 0 })).toBe('');
    expect(omissionNote({ text: '', omittedBytes: 5 }, { text: '', omittedBytes: 0 })).toContain('5 bytes of stdout omitted');
  });

  test('redact replaces every secret', () => {
    expect(redact('pw=abc; again abc; key=abcdef', ['abcdef', 'abc'])).toBe(`pw=${REDACTED}; again ${REDACTED}; key=${REDACTED}`);
  });

  test('secretValues reads the named variables', () => {
    process.env.KBOOT_TEST_PASSPHRASE = 'the-passphrase';
    process.env.KBOOT_TEST_SUDO = 'the-password';
    const endpoint = { ...sshd.endpoint(), passphraseEnv: 'KBOOT_TEST_PASSPHRASE', sudo: true, sudoPasswordEnv: 'KBOOT_TEST_SUDO' };

    expect(secretValues(endpoint)).toEqual(['the-passphrase', 'the-password']);
    expect(secretValues({ ...endpoint, sudo: false })).toEqual(['the-passphrase']);
    delete process.env.KBOOT_TEST_PASSPHRASE;
    delete process.env.KBOOT_TEST_SUDO;
  });
});
