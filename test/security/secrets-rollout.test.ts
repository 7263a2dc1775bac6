/**
 * A whole rollout on a sandbox fleet whose hosts accept only a passphrase-protected key and whose
 * sudo wants a password, with hostile but schema-valid values in the fields that accept them.
 * Afterwards every workflow history of the rollout and its host runs is read through the Temporal
 * client and searched for the passphrase, the sudo password and the key's bytes. The worker's log
 * and the CLI's output are searched too, and each host for the files that the hostile values would
 * create if a shell ever ran them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MockActivityEnvironment } from '@temporalio/testing';

import { sshEndpoint } from '../../activities/endpoint';
import { REDACTED, runRemote } from '../../activities/remote';
import { SshPool, type RemoteResult } from '../../activities/ssh/index';
import { quote } from '../../plan/shell';
import type { ClusterSpec } from '../../plan/spec';
import { down, up, type UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess, REPO_ROOT } from '../helpers/kboot';
import { addressOf, authorizeOnlyKey, generateEncryptedKey, onHost, setSudoers, setUserPassword, writeSpec } from './fleet-setup';
import { clusterExecutions, withTemporal } from './temporal';

const FLEET = 'secroll';
const HOSTS = ['master', 'node1', 'node2'];
const PASSPHRASE = `kp-${process.pid}-Ph;rase $(touch /tmp/owned) 'q'`;
const SUDO_PASSWORD = `sp-${process.pid}-Pw;d \`touch /tmp/owned\` 'q'`;
const PASSPHRASE_ENV = 'KBOOT_SEC_KEY_PASSPHRASE';
const SUDO_PASSWORD_ENV = 'KBOOT_SEC_SUDO_PASSWORD';

/** Yum repository name: every shell metacharacter the schema lets through, each a way to run kbootowned. */
const HOSTILE_REPOSITORY_NAME = `kboot repo'; kbootowned; touch /tmp/owned; "(kbootowned)" & kbootowned | kbootowned > /tmp/owned < /dev/null ; '`;
/** A repository folder whose path carries the URL characters a shell would act on. */
const HOSTILE_REPOSITORY_DIR = `/opt/kboot-repo;kbootowned&'(kbootowned)'!#kbootowned`;
/** Files that a hostile value leaves behind if any shell ever runs it. */
const CANARY = `#!/bin/sh
touch /tmp/kboot-owned /kboot-owned
`;

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let dir: string;
let keyFile: string;
let specFile: string;
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('secroll') };

beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: HOSTS.length, repoRoot: REPO_ROOT });
  dir = mkdtempSync(join(tmpdir(), 'kboot-secroll-'));
  keyFile = join(dir, 'id_ed25519');
  generateEncryptedKey(keyFile, PASSPHRASE);
  specFile = writeSpec(fleet, join(dir, 'cluster.yaml'), (spec) => {
    Object.assign(spec.ssh, { privateKeyFile: keyFile, passphraseEnv: PASSPHRASE_ENV, sudoPasswordEnv: SUDO_PASSWORD_ENV });
    spec.packages.repository.name = HOSTILE_REPOSITORY_NAME;
    spec.packages.repository.baseurl = `file://${HOSTILE_REPOSITORY_DIR}`;
  });

  for (const host of HOSTS) {
    await authorizeOnlyKey(FLEET, host, `${keyFile}.pub`);
    await setUserPassword(FLEET, host, SUDO_PASSWORD);
    await setSudoers(FLEET, host, ['kboot ALL=(ALL:ALL) ALL']);
    const link = `ln -sfn ${quote(`${REPO_ROOT}/sandbox/repo`)} ${quote(HOSTILE_REPOSITORY_DIR)}`;
    await onHost(FLEET, host, `cat > /usr/local/bin/kbootowned && chmod 755 /usr/local/bin/kbootowned && mkdir -p /opt && ${link}`, CANARY);
  }
  // Only the worker has the secrets; `kboot apply` and the other commands run without them.
  worker = startWorker({ ...env, [PASSPHRASE_ENV]: PASSPHRASE, [SUDO_PASSWORD_ENV]: SUDO_PASSWORD });
});

afterAll(async () => {
  await worker?.stop();
  if (fleet !== undefined) await down(FLEET);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Text forms in which a secret could be stored: as is, JSON-escaped, and base64. */
function secretForms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')];
}

/** Returns the key file whole, each line of its body, and its decoded bytes as base64. */
function keyForms(): string[] {
  const text = readFileSync(keyFile, 'utf8');
  const body = text.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
  return [text.trim(), ...body, Buffer.from(body.join(''), 'base64').toString('base64')];
}

/** Collects every string in a history, with byte fields (payloads) decoded as UTF-8 and as base64. */
function historyText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'), Buffer.from(value).toString('base64'));
  else if (Array.isArray(value)) value.forEach((item) => historyText(item, out));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((item) => historyText(item, out));
  return out;
}

describe('rollout with a passphrase-protected key and a sudo password', () => {
  let applied: Awaited<ReturnType<typeof runKboot>>;

  beforeAll(async () => {
    applied = await runKboot(['apply', specFile], env, 8 * 60_000);
  });

  test('rollout succeeds', () => {
    if (applied.code !== 0) throw new Error(`kboot apply exited ${applied.code}\n${applied.stdout}\n${applied.stderr}\nworker:\n${worker.output().slice(-5000)}`);
    expect(applied.stdout).toContain(`rollout ${FLEET} succeeded`);
  });

  test('steps ran as root through sudo', async () => {
    for (const host of HOSTS) {
      expect(await onHost(FLEET, host, 'stat -c %U /var/lib/kboot/steps/packages.json')).toBe('root\n');
    }
  });

  test('histories hold no secret', async () => {
    const searched = await withTemporal(async (client) => {
      const executions = await clusterExecutions(client, FLEET);
      const texts: string[] = [];
      for (const execution of executions) {
        const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
        texts.push(historyText(history).join('\n'));
      }
      return { executions, text: texts.join('\n') };
    });

    // The rollout and every host run: a master runs up to its etcd member, then its master
    // services (2 runs); a node runs up to flannel, docker, then its node services (3 runs).
    expect(searched.executions.length).toBeGreaterThanOrEqual(1 + 2 + 3 * (HOSTS.length - 1));
    // The search does read what the histories hold: the spec's own values are there.
    expect(searched.text).toContain(JSON.stringify(HOSTILE_REPOSITORY_NAME).slice(1, -1));
    expect(searched.text).toContain(SUDO_PASSWORD_ENV);
    for (const form of [...secretForms(PASSPHRASE), ...secretForms(SUDO_PASSWORD)]) expect(searched.text).not.toContain(form);
    for (const form of keyForms()) expect(searched.text).not.toContain(form);
  });

  test('logs and output hold no secret', () => {
    const text = `${worker.output()}\n${applied.stdout}\n${applied.stderr}`;
    for (const form of [...secretForms(PASSPHRASE), ...secretForms(SUDO_PASSWORD), ...keyForms()]) expect(text).not.toContain(form);
  });

  test('hostile values ran nowhere', async () => {
    for (const host of HOSTS) {
      const listing = await onHost(FLEET, host, 'ls -a / /tmp');
      expect([host, listing.match(/owned/g) ?? []]).toEqual([host, []]);
    }
  });

  test('hostile repository name arrives verbatim', async () => {
    const repoFile = await onHost(FLEET, 'node1', 'cat /etc/yum.repos.d/kboot-sandbox.repo');
    expect(repoFile).toContain(`name=${HOSTILE_REPOSITORY_NAME}\n`);
    expect(repoFile).toContain(`baseurl=file://${HOSTILE_REPOSITORY_DIR}\n`);
  });
});

describe('output shown to users', () => {
  let pool: SshPool;
  let spec: ClusterSpec['ssh'];

  beforeAll(() => {
    pool = new SshPool();
    process.env[PASSPHRASE_ENV] = PASSPHRASE;
    process.env[SUDO_PASSWORD_ENV] = SUDO_PASSWORD;
    spec = {
      user: 'kboot',
      port: 22,
      privateKeyFile: keyFile,
      knownHostsFile: fleet.knownHostsFile,
      passphraseEnv: PASSPHRASE_ENV,
      sudo: true,
      sudoPasswordEnv: SUDO_PASSWORD_ENV,
      connectTimeout: '10s',
    };
  });

  afterAll(async () => {
    await pool.close();
    delete process.env[PASSPHRASE_ENV];
    delete process.env[SUDO_PASSWORD_ENV];
  });

  /** Returns a script that prints both secrets, as a careless command on a host might. */
  function leakingScript(exitCode: number): string {
    return `cat <<'EOF'\npassphrase ${PASSPHRASE}\nEOF\ncat >&2 <<'EOF'\npassword ${SUDO_PASSWORD}\nEOF\nexit ${exitCode}\n`;
  }

  test('failure message redacts secrets', async () => {
    const endpoint = sshEndpoint(spec, 'node2', addressOf(fleet, 'node2'));

    const error = await new MockActivityEnvironment()
      .run(() => runRemote(pool, endpoint, leakingScript(3), { action: 'leak on node2', timeoutMs: 30_000 }))
      .catch((caught: unknown) => caught);

    const shown = JSON.stringify({ message: (error as Error).message, details: (error as { details?: unknown }).details });
    expect(shown).toContain(`password ${REDACTED}`);
    expect(shown).toContain(`passphrase ${REDACTED}`);
    for (const form of [...secretForms(PASSPHRASE), ...secretForms(SUDO_PASSWORD)]) expect(shown).not.toContain(form);
  });

  test('success output redacts secrets', async () => {
    const endpoint = sshEndpoint(spec, 'node2', addressOf(fleet, 'node2'));

    const result = (await new MockActivityEnvironment().run(() => runRemote(pool, endpoint, leakingScript(0), { action: 'leak on node2', timeoutMs: 30_000 }))) as RemoteResult;

    expect(result.stdout).toBe(`passphrase ${REDACTED}\n`);
    expect(result.stderr).toBe(`password ${REDACTED}\n`);
  });
});
