/** How the spec's SSH settings and a host's own become the SSH layer's endpoint. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { parse, stringify } from 'yaml';

import { jumpTarget, sshEndpoint } from '../../activities/endpoint';
import { parseSpec } from '../../client/spec-file';
import type { ClusterSpec } from '../../plan/spec';

function specWith(edit: (spec: Record<string, any>) => void): ClusterSpec {
  const data = parse(readFileSync(resolve(__dirname, '../../examples/cluster.yaml'), 'utf8')) as Record<string, any>;
  edit(data);
  return parseSpec(stringify(data), '/specs/cluster.yaml').spec;
}

const PIN = `SHA256:${'C'.repeat(43)}`;

describe('ssh endpoint from the spec', () => {
  test('section settings apply to every host', () => {
    const spec = specWith(() => undefined);
    const host = spec.hosts[1];

    expect(sshEndpoint(spec.ssh, host.name, host.address, host.ssh)).toEqual({
      host: 'node1',
      address: '10.20.0.11',
      port: 22,
      user: 'ops',
      privateKeyFile: '/specs/keys/id_ed25519',
      passphraseEnv: undefined,
      knownHostsFile: '/specs/keys/known_hosts',
      fingerprints: undefined,
      sudo: true,
      sudoPasswordEnv: undefined,
      tty: undefined,
      connectTimeoutMs: 10_000,
      jump: undefined,
    });
  });

  test('host settings win over the section', () => {
    const spec = specWith((data) => {
      Object.assign(data.ssh, { passphraseEnv: 'KEY_PASS', sudoPasswordEnv: 'SUDO_PASS', tty: false });
      data.hosts[1].ssh = { user: 'root', port: 2222, sudo: false, tty: true, fingerprints: [PIN] };
    });
    const host = spec.hosts[1];

    const endpoint = sshEndpoint(spec.ssh, host.name, host.address, host.ssh);

    expect(endpoint).toMatchObject({ user: 'root', port: 2222, sudo: false, tty: true, fingerprints: [PIN], passphraseEnv: 'KEY_PASS' });
    // A host that does not use sudo gets no sudo password.
    expect(endpoint.sudoPasswordEnv).toBeUndefined();
    expect(sshEndpoint(spec.ssh, spec.hosts[2].name, spec.hosts[2].address, spec.hosts[2].ssh)).toMatchObject({ sudoPasswordEnv: 'SUDO_PASS', tty: false });
  });

  test('bastion inherits user and key', () => {
    const spec = specWith((data) => {
      data.ssh.passphraseEnv = 'KEY_PASS';
      data.ssh.jump = { address: 'bastion.example.com', fingerprints: [PIN] };
    });

    expect(jumpTarget(spec.ssh)).toEqual({
      host: 'bastion',
      address: 'bastion.example.com',
      port: 22,
      user: 'ops',
      privateKeyFile: '/specs/keys/id_ed25519',
      passphraseEnv: 'KEY_PASS',
      knownHostsFile: '/specs/keys/known_hosts',
      fingerprints: [PIN],
      connectTimeoutMs: 10_000,
    });
    expect(sshEndpoint(spec.ssh, 'node1', '10.20.0.11').jump).toEqual(jumpTarget(spec.ssh));
  });

  test('bastion with its own key', () => {
    const spec = specWith((data) => {
      data.ssh.passphraseEnv = 'KEY_PASS';
      data.ssh.jump = { name: 'gw', address: '10.20.0.1', port: 2200, user: 'jump', privateKeyFile: './keys/bastion' };
    });

    // Another key does not inherit the passphrase of the hosts' key.
    expect(jumpTarget(spec.ssh)).toMatchObject({ host: 'gw', port: 2200, user: 'jump', privateKeyFile: '/specs/keys/bastion', passphraseEnv: undefined });
  });
});
