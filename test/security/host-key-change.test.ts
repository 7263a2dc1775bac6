/**
 * Host trust end to end on a sandbox fleet, through the built CLI: first contact, `kboot trust`,
 * a re-imaged host with a new key, and an impostor sshd listening at a host's address. A host
 * whose key is unknown or different is refused before authentication, so no script runs on it,
 * and the message shows the old and new fingerprints and how to re-pin.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { changeHostKey, down, up, type UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess, REPO_ROOT } from '../helpers/kboot';
import { addressOf, onHost, writeSpec } from './fleet-setup';
import { waitForRolloutClosed, withTemporal } from './temporal';

const FLEET = 'sectrust';

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let dir: string;
let specFile: string;
let knownHostsFile: string;
const env: Record<string, string> = { KBOOT_TASK_QUEUE: uniqueTaskQueue('sectrust') };

/** SHA256 fingerprints of a host's own host keys, read on the host. */
async function hostFingerprints(host: string): Promise<string[]> {
  const output = await onHost(FLEET, host, 'for key in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -l -E sha256 -f "$key"; done');
  return output
    .trim()
    .split('\n')
    .map((line) => line.split(' ')[1]);
}

/** Logins sshd accepted on the host so far, from its log. */
async function acceptedLogins(host: string): Promise<number> {
  const log = await onHost(FLEET, host, 'cat /var/log/kboot-sandbox/sshd.service.log');
  return log.split('\n').filter((line) => line.startsWith('Accepted publickey for ')).length;
}

/**
 * Ends the SSH sessions open on the host, as the reboot after a re-install would. A pooled
 * connection of the worker's, checked when it opened, would otherwise outlive the key change.
 */
async function dropSshSessions(host: string): Promise<void> {
  await onHost(FLEET, host, `ss -Htnp state established '( sport = :22 )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | xargs -r kill 2>/dev/null || true`);
}

/** Returns the line of `output` about `host`, and fails with the whole output when there is none. */
function lineAbout(host: string, output: string): string {
  const line = output.split('\n').find((candidate) => candidate.trimStart().startsWith(`${host}:`) || candidate.startsWith(`${host} (`));
  if (line === undefined) throw new Error(`no line about ${host} in:\n${output}`);
  return line;
}

async function abortRollout(): Promise<void> {
  await runKboot(['abort', FLEET], env, 60_000);
  await withTemporal((client) => waitForRolloutClosed(client, FLEET));
}

beforeAll(async () => {
  await down(FLEET).catch(() => undefined);
  fleet = await up({ name: FLEET, hosts: 2, repoRoot: REPO_ROOT });
  dir = mkdtempSync(join(tmpdir(), 'kboot-sectrust-'));
  knownHostsFile = join(dir, 'known_hosts');
  // node1 is an etcd member too, so a refused node1 stops the rollout at the etcd quorum gate.
  specFile = writeSpec(fleet, join(dir, 'cluster.yaml'), (spec) => {
    spec.ssh.knownHostsFile = knownHostsFile;
    spec.hosts[1].roles = ['etcd', 'node'];
  });
  worker = startWorker(env);
});

afterAll(async () => {
  await runKboot(['abort', FLEET], env, 60_000).catch(() => undefined);
  await worker?.stop();
  if (fleet !== undefined) await down(FLEET);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('host trust on the sandbox fleet', () => {
  let masterKeys: string[];
  let oldNode1Keys: string[];

  test('apply needs a known_hosts file', async () => {
    const result = await runKboot(['apply', specFile], env, 60_000);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`:\\d+: ssh\\.knownHostsFile: file not found: ${knownHostsFile}; record the hosts' keys into it with kboot trust`));
  });

  test('apply refuses hosts never trusted', async () => {
    writeFileSync(knownHostsFile, '');
    const before = await acceptedLogins('node1');

    const result = await runKboot(['apply', specFile], env, 5 * 60_000);

    expect(result.code).toBe(4);
    for (const host of ['master', 'node1']) {
      expect(result.stderr).toMatch(new RegExp(`${host}: preflight failed: .*host key unknown: no entry for ${addressOf(fleet, host)} in ${knownHostsFile}`));
    }
    expect(result.stderr).toContain('pin it with kboot trust <spec>');
    expect(await acceptedLogins('node1')).toBe(before);
    await abortRollout();
  });

  test('trust records every host key', async () => {
    masterKeys = await hostFingerprints('master');
    oldNode1Keys = await hostFingerprints('node1');
    const loginsBefore = await acceptedLogins('node1');

    const result = await runKboot(['trust', specFile], env, 120_000);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^master \(\S+:22\): recorded /m);
    expect(result.stdout).toMatch(/^node1 \(\S+:22\): recorded /m);
    for (const fingerprint of [...masterKeys, ...oldNode1Keys]) expect(result.stdout).toContain(fingerprint);
    expect(readFileSync(knownHostsFile, 'utf8').trim().split('\n')).toHaveLength(masterKeys.length + oldNode1Keys.length);
    // The scan stops at the host key check: no login, no credential sent.
    expect(await acceptedLogins('node1')).toBe(loginsBefore);
  });

  test('trust again changes nothing', async () => {
    const before = readFileSync(knownHostsFile, 'utf8');

    const result = await runKboot(['trust', specFile], env, 120_000);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^node1 \(\S+:22\): already trusted: /m);
    expect(readFileSync(knownHostsFile, 'utf8')).toBe(before);
  });

  test('apply succeeds once trusted', async () => {
    const result = await runKboot(['apply', specFile], env, 5 * 60_000);

    if (result.code !== 0) throw new Error(`kboot apply exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  });

  describe('after node1 is re-imaged', () => {
    let newNode1Keys: string[];

    beforeAll(async () => {
      await changeHostKey(FLEET, 'node1');
      await dropSshSessions('node1');
      newNode1Keys = await hostFingerprints('node1');
    });

    test('trust refuses the changed key', async () => {
      const before = readFileSync(knownHostsFile, 'utf8');

      const result = await runKboot(['trust', specFile], env, 120_000);

      expect(result.code).toBe(1);
      const line = lineAbout('node1', result.stdout);
      expect(line).toContain('host key changed');
      for (const fingerprint of [...oldNode1Keys, ...newNode1Keys]) expect(line).toContain(fingerprint);
      expect(line).toContain(`kboot trust ${specFile} --replace node1`);
      expect(readFileSync(knownHostsFile, 'utf8')).toBe(before);
    });

    test('apply refuses it, runs nothing there', async () => {
      const before = await acceptedLogins('node1');

      const result = await runKboot(['apply', specFile], env, 5 * 60_000);

      expect(result.code).toBe(4);
      const line = lineAbout('node1', result.stderr);
      expect(line).toContain('host key mismatch');
      for (const fingerprint of oldNode1Keys) expect(line).toContain(fingerprint);
      // The host presents one of its new keys, the one of a type known_hosts lists first.
      expect(newNode1Keys.filter((fingerprint) => line.includes(fingerprint))).toHaveLength(1);
      expect(line).toContain('kboot trust <spec> --replace node1');
      expect(result.stderr).not.toMatch(/master: .* failed/);
      expect(await acceptedLogins('node1')).toBe(before);
    });

    test('status shows both fingerprints', async () => {
      const result = await runKboot(['status', FLEET], env, 60_000);

      expect(result.code).toBe(4);
      expect(result.stdout).toContain('host key mismatch');
      for (const fingerprint of oldNode1Keys) expect(result.stdout).toContain(fingerprint);
      expect(newNode1Keys.filter((fingerprint) => result.stdout.includes(fingerprint))).toHaveLength(1);
    });

    test('replace re-pins, retry resumes', async () => {
      const trusted = await runKboot(['trust', specFile, '--replace', 'node1'], env, 120_000);
      expect(trusted.code).toBe(0);
      expect(trusted.stdout).toMatch(/^node1 \(\S+:22\): replaced /m);
      const lines = readFileSync(knownHostsFile, 'utf8');
      for (const fingerprint of oldNode1Keys) expect(trusted.stdout).toContain(fingerprint);
      expect(lines.trim().split('\n')).toHaveLength(masterKeys.length + newNode1Keys.length);

      const retried = await runKboot(['retry', FLEET, 'node1'], env, 60_000);
      expect(retried.code).toBe(0);
      // The etcd quorum gate may have failed on node1 too, while it was refused: check it again.
      await runKboot(['retry', FLEET, 'gate:etcd-quorum'], env, 60_000);
      const followed = await runKboot(['apply', specFile], env, 5 * 60_000);
      if (followed.code !== 0) throw new Error(`kboot apply exited ${followed.code}\n${followed.stdout}\n${followed.stderr}`);
      expect(followed.stdout).toContain(`rollout ${FLEET} succeeded`);
    });
  });

  describe('with an impostor at node1', () => {
    let pinnedSpec: string;
    let impostorKey: string;

    beforeAll(async () => {
      const realKeys = await hostFingerprints('node1');
      pinnedSpec = writeSpec(fleet, join(dir, 'pinned.yaml'), (spec) => {
        spec.ssh.knownHostsFile = knownHostsFile;
        spec.hosts[1].roles = ['etcd', 'node'];
        spec.hosts[1].ssh = { fingerprints: realKeys };
      });
      // Another sshd takes over node1's address with a key of its own and none of node1's: no
      // config file, so it loads no HostKey from /etc/ssh/sshd_config.
      impostorKey = (
        await onHost(
          FLEET,
          'node1',
          `systemctl stop sshd.service
rm -f /root/impostor_key /root/impostor_key.pub
ssh-keygen -q -t ed25519 -N '' -f /root/impostor_key
setsid /usr/sbin/sshd -D -e -f /dev/null -o HostKey=/root/impostor_key -o PidFile=/run/impostor-sshd.pid -o ListenAddress=${addressOf(fleet, 'node1')}:22 </dev/null >/dev/null 2>&1 &
for attempt in $(seq 50); do ss -Hltn "sport = :22" | grep -q . && break; sleep 0.1; done
ssh-keygen -l -E sha256 -f /root/impostor_key.pub`,
        )
      ).split(' ')[1];
      await dropSshSessions('node1');
    });

    afterAll(async () => {
      await onHost(FLEET, 'node1', 'kill "$(cat /run/impostor-sshd.pid)" 2>/dev/null; sleep 0.5; systemctl start sshd.service');
    });

    test('pinned spec refuses the impostor', async () => {
      const result = await runKboot(['apply', pinnedSpec], env, 5 * 60_000);

      expect(result.code).toBe(4);
      const line = lineAbout('node1', result.stderr);
      expect(line).toContain('host key mismatch');
      expect(line).toContain(impostorKey);
      expect(line).toContain('remove the old fingerprint from the spec');
      await abortRollout();
    });

    test('trust reports the pin mismatch', async () => {
      const before = readFileSync(knownHostsFile, 'utf8');

      const result = await runKboot(['trust', pinnedSpec], env, 120_000);

      if (result.code !== 1) throw new Error(`kboot trust exited ${result.code}:\n${result.stdout}${result.stderr}`);
      const line = lineAbout('node1', result.stdout);
      expect(line).toContain('host key mismatch: the spec pins');
      expect(line).toContain(impostorKey);
      expect(readFileSync(knownHostsFile, 'utf8')).toBe(before);
    });
  });
});
