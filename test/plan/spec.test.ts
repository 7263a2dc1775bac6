import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadSpec, parseSpec, SpecError } from '../../client/spec-file';

const example = readFileSync(resolve(__dirname, '../../examples/cluster.yaml'), 'utf8');

function errorOf(text: string): SpecError {
  try {
    parseSpec(text, 'cluster.yaml');
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error('expected a SpecError');
}

describe('cluster spec', () => {
  test('example parses with defaults', () => {
    const { spec, warnings } = parseSpec(example, '/specs/cluster.yaml');
    expect(spec.name).toBe('prod-east');
    expect(spec.hosts).toHaveLength(4);
    expect(spec.ssh.privateKeyFile).toBe('/specs/keys/id_ed25519');
    expect(spec.rollout.parallelism).toBe(10);
    expect(warnings).toEqual([]);
  });

  test('defaults fill optional sections', () => {
    const minimal = example.replace(/\netcd:[\s\S]*?\nflannel:/, '\nflannel:').replace(/\ndocker:[\s\S]*$/, '\n');
    const { spec } = parseSpec(minimal, 'cluster.yaml');
    expect(spec.etcd.clientPort).toBe(2379);
    expect(spec.docker.storageDriver).toBe('overlay2');
    expect(spec.kubernetes.apiPort).toBe(8080);
  });

  test.each([
    ['unknown key', example.replace('  port: 22\n', '  port: 22\n  colour: blue\n'), 'ssh', 'unknown key "colour"'],
    ['bad address', example.replace('10.20.0.12', '10.20.0.300'), 'hosts[2].address', 'IPv4 address or a DNS name'],
    ['duplicate name', example.replace('name: node2', 'name: node1'), 'hosts[2].name', 'duplicate host name node1'],
    ['duplicate address', example.replace('10.20.0.12', '10.20.0.11'), 'hosts[2].address', 'duplicate address'],
    ['no master', example.replace('roles: [etcd, master]', 'roles: [etcd, node]'), 'hosts', 'no host has the master role'],
    ['overlapping networks', example.replace('10.254.0.0/16', '10.244.128.0/17'), 'flannel.network', 'overlaps'],
    ['subnet too wide', example.replace('subnetLen: 24', 'subnetLen: 16'), 'flannel.subnetLen', 'longer than'],
    ['hostile repository name', example.replace('name: CentOS 7 extras (internal mirror)', 'name: x$(touch /tmp/owned)'), 'packages.repository.name', 'without $'],
    ['missing flannel', example.replace(/\nflannel:[\s\S]*?\ndocker:/, '\ndocker:'), 'flannel', 'missing'],
    ['loop-lvm', example.replace('storageDriver: overlay2', 'storageDriver: devicemapper'), 'docker.storageOptions', 'loop-lvm'],
  ])('%s is rejected', (_name, text, path, message) => {
    const error = errorOf(text);
    expect(error.specPath).toBe(path);
    expect(error.detail).toContain(message);
  });

  test('error carries the line', () => {
    const error = errorOf(example.replace('10.20.0.12', '10.20.0.300'));
    expect(error.line).toBe(example.split('\n').findIndex((line) => line.includes('10.20.0.12')) + 1);
    expect(error.message).toMatch(/^cluster\.yaml:\d+: hosts\[2\]\.address: /);
  });

  test('invalid YAML names the line', () => {
    const error = errorOf('name: a\nhosts: [\n');
    expect(error.detail).toMatch(/^invalid YAML/);
  });

  test('even etcd membership warns', () => {
    const { warnings } = parseSpec(example.replace('roles: [node] }', 'roles: [etcd, node] }'), 'cluster.yaml');
    expect(warnings.map((warning) => warning.message).join()).toContain('4 etcd members tolerate 1 failure');
  });

  test('missing key file is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kboot-spec-'));
    writeFileSync(join(dir, 'cluster.yaml'), example);
    expect(() => loadSpec(join(dir, 'cluster.yaml'))).toThrow(/ssh\.privateKeyFile: file not found/);
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys/id_ed25519'), 'key');
    writeFileSync(join(dir, 'keys/known_hosts'), '');
    expect(loadSpec(join(dir, 'cluster.yaml')).spec.name).toBe('prod-east');
  });
});
