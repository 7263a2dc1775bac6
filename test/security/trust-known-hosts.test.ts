/**
 * `kboot trust` on known_hosts files as operators keep them: hashed names, a line that lists a host
 * together with other names, comments and other hosts' lines that must survive a replacement, and
 * a host that is down. Runs against the SSH layer's test sshd on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { stringify } from 'yaml';

import { loadSpec } from '../../client/spec-file';
import { runTrust, trustHosts, TrustUsageError } from '../../client/trust';
import { TestSshd } from '../ssh/sshdServer';

const OTHER_HOST_LINE = '10.9.9.9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let sshd: TestSshd;
let specFile: string;
let knownHostsFile: string;

function writeTrustSpec(port: number): string {
  const file = join(sshd.dir, 'cluster.yaml');
  const spec = {
    name: 'trust-test',
    ssh: { user: 'root', privateKeyFile: sshd.clientKeyFile, knownHostsFile, connectTimeout: '3s' },
    hosts: [{ name: 'node1', address: '127.0.0.1', roles: ['etcd', 'master', 'node'], ssh: { port } }],
    packages: { repository: { id: 'test', name: 'test', baseurl: 'file:///srv/repo' } },
    flannel: { network: '10.244.0.0/16' },
  };
  writeFileSync(file, stringify(spec));
  return file;
}

/** The sshd's current host key as a known_hosts line for `name`. */
function hostKeyLine(name: string): string {
  const [keyType, keyBase64] = readFileSync(join(sshd.dir, 'host_ed25519_key.pub'), 'utf8').split(' ');
  return `${name} ${keyType} ${keyBase64}`;
}

async function trust(replace: string[] = []): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runTrust(specFile, replace, (line) => lines.push(line));
  return { code, lines };
}

beforeAll(async () => {
  sshd = await TestSshd.start();
  knownHostsFile = join(sshd.dir, 'trust_known_hosts');
  specFile = writeTrustSpec(sshd.port);
});

afterAll(async () => {
  await sshd?.stop();
});

describe('kboot trust on known_hosts files', () => {
  test('hashed entry counts as trusted', async () => {
    writeFileSync(knownHostsFile, `${hostKeyLine(`[127.0.0.1]:${sshd.port}`)}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHostsFile], { stdio: 'ignore' });

    const result = await trust();

    expect(result.code).toBe(0);
    expect(result.lines[0]).toContain(`node1 (127.0.0.1:${sshd.port}): already trusted: ssh-ed25519 ${sshd.hostKeyFingerprint()}`);
  });

  test('replace keeps other lines', async () => {
    const name = `[127.0.0.1]:${sshd.port}`;
    writeFileSync(knownHostsFile, `# fleet keys\n${OTHER_HOST_LINE}\n${hostKeyLine(name)}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHostsFile], { stdio: 'ignore' });
    const hashedOther = readFileSync(knownHostsFile, 'utf8').split('\n')[1];
    const oldFingerprint = sshd.hostKeyFingerprint();
    await sshd.restart({ newHostKey: true });

    const refused = await trust();
    const replaced = await trust(['node1']);

    expect(refused.code).toBe(1);
    expect(refused.lines[0]).toContain(`host key changed`);
    expect(refused.lines[0]).toContain(oldFingerprint);
    expect(refused.lines[0]).toContain(sshd.hostKeyFingerprint());
    expect(replaced.code).toBe(0);
    expect(replaced.lines[0]).toContain(`replaced ssh-ed25519 ${oldFingerprint}`);
    expect(readFileSync(knownHostsFile, 'utf8')).toBe(`# fleet keys\n${hashedOther}\n${hostKeyLine(name)}\n`);
  });

  test('shared line is left to the operator', async () => {
    const shared = hostKeyLine(`other.example,[127.0.0.1]:${sshd.port}`);
    writeFileSync(knownHostsFile, `${shared}\n`);
    await sshd.restart({ newHostKey: true });

    const result = await trust(['node1']);

    expect(result.code).toBe(1);
    expect(result.lines[0]).toContain(`known_hosts line 1 lists [127.0.0.1]:${sshd.port} together with other names; edit ${knownHostsFile} by hand`);
    expect(readFileSync(knownHostsFile, 'utf8')).toBe(`${shared}\n`);
  });

  test('unreachable host reported quickly', async () => {
    writeFileSync(knownHostsFile, '');
    const closed = writeTrustSpec(1);
    const startedAt = Date.now();
    const lines: string[] = [];

    const code = await runTrust(closed, [], (line) => lines.push(line));

    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^node1 \(127\.0\.0\.1:1\): cannot reach the host: /);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(readFileSync(knownHostsFile, 'utf8')).toBe('');
    writeTrustSpec(sshd.port);
  });

  test('replace of an unknown host rejected', async () => {
    await expect(trustHosts(loadSpec(specFile, { knownHostsMayBeMissing: true }), { replace: ['node9'], print: () => undefined })).rejects.toThrow(TrustUsageError);
  });
});
