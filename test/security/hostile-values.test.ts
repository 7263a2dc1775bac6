/**
 * Hostile values in every string field of a cluster spec: the schema rejects each one, except in
 * the few fields listed here, whose values either never reach a host or reach it only inside a
 * quoted here-document. The rollout in secrets-rollout.test.ts sends those through to sandbox
 * hosts and checks that nothing ran.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { parse, stringify } from 'yaml';

import { parseSpec, SpecError } from '../../client/spec-file';
import { buildPlan, renderStep, stepScript, type StepId } from '../../plan/index';

/** Shell injections and quote breaks, each a way out of a badly quoted word. */
export const HOSTILE_PAYLOADS = [
  '$(touch /tmp/owned)',
  '`touch /tmp/owned`',
  ';touch /tmp/owned',
  ';kbootowned',
  '&kbootowned',
  '|kbootowned',
  "'; touch /tmp/owned; '",
  '"; touch /tmp/owned; "',
  '\ntouch /tmp/owned',
  '\\\ntouch /tmp/owned',
  '>/tmp/owned',
] as const;

/**
 * Fields that accept some hostile payloads. This is safe because local paths stay on the worker,
 * and the yum repository's name and URL reach the .repo file through a quoted here-document, to
 * be read by yum, never by a shell.
 */
const ACCEPTING_FIELDS = new Set(['ssh.privateKeyFile', 'ssh.knownHostsFile', 'ssh.jump.privateKeyFile', 'packages.repository.name', 'packages.repository.baseurl']);

type Data = Record<string, unknown>;

/** Returns the example spec with every optional string field set, so that each one is tried. */
function fullSpec(): Data {
  const spec = parse(readFileSync(resolve(__dirname, '../../examples/cluster.yaml'), 'utf8')) as Data;
  const ssh = spec.ssh as Data;
  Object.assign(ssh, {
    passphraseEnv: 'KBOOT_KEY_PASSPHRASE',
    sudoPasswordEnv: 'KBOOT_SUDO_PASSWORD',
    jump: { name: 'bastion', address: 'bastion.example.com', user: 'jump', privateKeyFile: './keys/bastion', passphraseEnv: 'KBOOT_BASTION_PASSPHRASE', fingerprints: [`SHA256:${'A'.repeat(43)}`] },
  });
  const hosts = spec.hosts as Data[];
  hosts[0].ssh = { user: 'root', fingerprints: [`SHA256:${'B'.repeat(43)}`] };
  (spec.docker as Data).storageOptions = ['overlay2.size=10G'];
  Object.assign(spec.rollout as Data, { maxFailedHosts: '10%', operatorTimeout: '24h', batchSize: '50%' });
  return spec;
}

/** Lists the path of every string in `value`, as the spec errors write them (`hosts[0].name`). */
function stringPaths(value: unknown, path = ''): string[] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringPaths(item, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Data).flatMap(([key, item]) => stringPaths(item, path === '' ? key : `${path}.${key}`));
  }
  return [];
}

function withValue(spec: Data, path: string, value: string): Data {
  const copy = structuredClone(spec);
  const segments = path.split(/\.|\[(\d+)\]/).filter((segment) => segment !== undefined && segment !== '');
  let node = copy as Record<string, unknown>;
  for (const segment of segments.slice(0, -1)) node = node[segment] as Record<string, unknown>;
  node[segments[segments.length - 1]] = value;
  return copy;
}

function accepted(spec: Data): boolean {
  try {
    parseSpec(stringify(spec), '/specs/cluster.yaml');
    return true;
  } catch (error) {
    if (error instanceof SpecError) return false;
    throw error;
  }
}

const spec = fullSpec();
const paths = stringPaths(spec);
const cases = paths.flatMap((path) => HOSTILE_PAYLOADS.flatMap((payload) => [`${payload}`, `${String(pathValue(spec, path))}${payload}`].map((value) => ({ path, value }))));

function pathValue(data: Data, path: string): unknown {
  const segments = path.split(/\.|\[(\d+)\]/).filter((segment) => segment !== undefined && segment !== '');
  return segments.reduce<unknown>((node, segment) => (node as Record<string, unknown>)[segment], data);
}

describe('hostile spec values', () => {
  test('full spec itself is valid', () => {
    expect(accepted(spec)).toBe(true);
    expect(paths.length).toBeGreaterThan(30);
  });

  test.each(paths.filter((path) => !ACCEPTING_FIELDS.has(path)))('%s rejects every payload', (path) => {
    const passed = cases.filter((entry) => entry.path === path && accepted(withValue(spec, path, entry.value))).map((entry) => entry.value);
    expect(passed).toEqual([]);
  });

  test.each([...ACCEPTING_FIELDS].filter((path) => paths.includes(path)))('%s rejects line breaks', (path) => {
    expect(accepted(withValue(spec, path, `${String(pathValue(spec, path))}\ntouch /tmp/owned`))).toBe(false);
  });

  test.each(['packages.repository.name', 'packages.repository.baseurl'])('%s reaches scripts only in a quoted here-document', (path) => {
    const marker = path.endsWith('name') ? "x'; kbootowned; \"(kbootowned)\" & kbootowned | kbootowned > /tmp/owned" : "http://mirror.internal/x;kbootowned&'(kbootowned)'!";
    const { spec: parsed } = parseSpec(stringify(withValue(spec, path, marker)), '/specs/cluster.yaml');
    const plan = buildPlan(parsed);
    for (const [host, steps] of Object.entries(plan.hostSteps)) {
      for (const step of steps as StepId[]) {
        const script = stepScript(renderStep(parsed, step, host), { fingerprint: 'f', kbootVersion: 'v' });
        let delimiter: string | undefined;
        for (const line of script.split('\n')) {
          if (delimiter !== undefined && line === delimiter) {
            delimiter = undefined;
            continue;
          }
          // Inside `<<'DELIMITER'` ... DELIMITER bash expands nothing: the value is plain text there.
          if (line.includes(marker)) expect([host, step, delimiter !== undefined]).toEqual([host, step, true]);
          delimiter ??= /<<'(KBOOT_EOF[_0-9]*)'(\s|$)/.exec(line)?.[1];
        }
      }
    }
  });
});
