import { parse } from 'yaml';

import { parseEvents } from '../../sandbox/fleet/events';
import { defaultLayout } from '../../sandbox/fleet/layout';
import {
  InvalidFleetArgumentError,
  hostAddress,
  netnsName,
  resolveSandboxRoot,
  validateFleetName,
  vethName,
} from '../../sandbox/fleet/names';
import { renderClusterSpec } from '../../sandbox/fleet/spec';
import { clusterSpecSchema } from '../../plan/spec';
import { shellQuote } from '../../sandbox/fleet/boot';

describe('defaultLayout', () => {
  test('four hosts give three etcd members', () => {
    const hosts = defaultLayout(4, 1);
    expect(hosts.map((host) => host.name)).toEqual(['master', 'node1', 'node2', 'node3']);
    expect(hosts.map((host) => host.address)).toEqual(['198.18.1.11', '198.18.1.12', '198.18.1.13', '198.18.1.14']);
    expect(hosts.map((host) => host.roles)).toEqual([['etcd', 'master'], ['etcd', 'node'], ['etcd', 'node'], ['node']]);
  });

  test('two hosts give one etcd member', () => {
    const hosts = defaultLayout(2, 7);
    expect(hosts.map((host) => host.roles)).toEqual([['etcd', 'master'], ['node']]);
    expect(hosts[1]!.address).toBe('198.18.7.12');
  });

  test('one host is the master only', () => {
    expect(defaultLayout(1, 3)).toEqual([{ name: 'master', number: 1, address: '198.18.3.11', roles: ['etcd', 'master'] }]);
  });

  test('240 hosts fill the /24', () => {
    const hosts = defaultLayout(240, 200);
    expect(hosts[239]!.address).toBe('198.18.200.250');
    expect(() => defaultLayout(241, 200)).toThrow(InvalidFleetArgumentError);
  });

  test('invalid index is rejected', () => {
    expect(() => defaultLayout(4, 0)).toThrow(/fleet index 0/);
    expect(() => defaultLayout(4, 201)).toThrow(/fleet index 201/);
  });
});

describe('names', () => {
  test('namespace and veth names', () => {
    expect(netnsName('sandbox', 'node12')).toBe('kb-sandbox-node12');
    expect(vethName(200, 240)).toBe('kbv200h240');
    // Linux limits interface names to 15 characters.
    expect(vethName(200, 240).length).toBeLessThanOrEqual(15);
    expect(hostAddress(1, 1)).toBe('198.18.1.11');
  });

  test('fleet names with dashes are rejected', () => {
    expect(() => validateFleetName('my-fleet')).toThrow(/invalid fleet name "my-fleet"/);
    expect(() => validateFleetName('Sandbox')).toThrow(InvalidFleetArgumentError);
    expect(() => validateFleetName('sandbox')).not.toThrow();
  });

  test('sandbox root under an overlaid directory is rejected', () => {
    expect(() => resolveSandboxRoot('/var/lib/kboot')).toThrow(/lies under \/var/);
    expect(() => resolveSandboxRoot('/tmp/x')).toThrow(/lies under \/tmp/);
    expect(() => resolveSandboxRoot('relative')).toThrow(/absolute path/);
    expect(resolveSandboxRoot('/srv/kboot-sandbox/')).toBe('/srv/kboot-sandbox');
  });
});

describe('renderClusterSpec', () => {
  const text = renderClusterSpec({
    name: 'sandbox',
    hosts: defaultLayout(4, 1),
    privateKeyFile: '/srv/kboot-sandbox/sandbox/id_ed25519',
    knownHostsFile: '/srv/kboot-sandbox/sandbox/known_hosts',
    packageRepositoryDir: '/work/main/sandbox/repo',
  });
  const spec = parse(text) as Record<string, unknown>;

  test("product's schema accepts the spec", () => {
    const result = clusterSpecSchema.safeParse(spec);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });

  test('top-level keys match the schema', () => {
    expect(Object.keys(spec)).toEqual(['name', 'ssh', 'hosts', 'packages', 'etcd', 'flannel', 'docker', 'kubernetes', 'rollout']);
  });

  test('hosts carry name, address and roles only', () => {
    expect(spec.hosts).toEqual([
      { name: 'master', address: '198.18.1.11', roles: ['etcd', 'master'] },
      { name: 'node1', address: '198.18.1.12', roles: ['etcd', 'node'] },
      { name: 'node2', address: '198.18.1.13', roles: ['etcd', 'node'] },
      { name: 'node3', address: '198.18.1.14', roles: ['node'] },
    ]);
  });

  test('ssh, repository and etcd sections', () => {
    expect(spec.ssh).toEqual({
      user: 'kboot',
      port: 22,
      privateKeyFile: '/srv/kboot-sandbox/sandbox/id_ed25519',
      knownHostsFile: '/srv/kboot-sandbox/sandbox/known_hosts',
      sudo: true,
    });
    expect(spec.packages).toEqual({
      repository: {
        id: 'kboot-sandbox',
        name: 'kboot sandbox repository (stand-in RPMs)',
        baseurl: 'file:///work/main/sandbox/repo',
        gpgcheck: false,
      },
    });
    expect(spec.etcd).toEqual({ clientPort: 2379, peerPort: 2380, dataDir: '/var/lib/etcd/default.etcd', initialClusterToken: 'sandbox-etcd' });
  });

  test('flannel, docker, kubernetes and rollout sections', () => {
    expect(spec.flannel).toEqual({ network: '10.244.0.0/16', subnetLen: 24, backend: 'vxlan', etcdPrefix: '/kboot.io/network', etcdApi: 'v3' });
    expect(spec.docker).toEqual({ dataRoot: '/var/lib/docker', storageDriver: 'overlay2', storageOptions: [] });
    expect(spec.kubernetes).toEqual({
      apiPort: 8080,
      serviceClusterIpRange: '10.254.0.0/16',
      admissionControl: ['NamespaceLifecycle', 'NamespaceExists', 'LimitRanger', 'ResourceQuota'],
    });
    expect(spec.rollout).toEqual({ parallelism: 10 });
  });

  test('relative repository dir is rejected', () => {
    expect(() =>
      renderClusterSpec({ name: 'x', hosts: [], privateKeyFile: '/k', knownHostsFile: '/h', packageRepositoryDir: 'sandbox/repo' }),
    ).toThrow(/not absolute/);
  });
});

describe('parseEvents', () => {
  test('counts events per kind and name', () => {
    const parsed = parseEvents(
      [
        '2026-12-04T19:50:00Z install etcd',
        '2026-12-04T19:50:01Z start etcd.service',
        '2026-12-04T19:50:09+00:00 start etcd.service',
        '2026-12-04T19:51:00Z stop etcd.service',
        '',
      ].join('\n'),
    );
    expect(parsed.events).toHaveLength(4);
    expect(parsed.events[0]).toEqual({ time: '2026-12-04T19:50:00Z', kind: 'install', name: 'etcd' });
    expect(parsed.counts).toEqual({ install: { etcd: 1 }, start: { 'etcd.service': 2 }, stop: { 'etcd.service': 1 } });
    expect(parsed.malformed).toEqual([]);
  });

  test('keeps malformed lines apart', () => {
    const parsed = parseEvents('not a time start x\n2026-12-04T19:50:00Z start\n');
    expect(parsed.events).toEqual([]);
    expect(parsed.malformed).toEqual(['not a time start x', '2026-12-04T19:50:00Z start']);
  });
});

describe('shellQuote', () => {
  test('quotes embedded single quotes', () => {
    expect(shellQuote("ssh-ed25519 AAAA it's")).toBe(`'ssh-ed25519 AAAA it'\\''s'`);
  });
});
