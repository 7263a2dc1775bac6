/**
 * Adding a node to the spec: only the new node's steps run, plus what truly changes elsewhere (its
 * line in every other host's /etc/hosts); nothing is reinstalled or restarted on the other hosts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { runKboot } from '../helpers/kboot';
import { onHost, readCounters, useSandboxRollout } from '../helpers/rollout';

const FLEET = 'rsmscale';
const OLD_HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(10 * 60_000);

const sandbox = useSandboxRollout(FLEET, 5);

test('new node runs only its branch', async () => {
  const spec = parse(readFileSync(sandbox.fleet.specFile, 'utf8'));
  const withoutNode4 = { ...spec, hosts: spec.hosts.filter((host: { name: string }) => host.name !== 'node4') };
  const smallSpec = `${sandbox.fleet.specFile}.4.yaml`;
  writeFileSync(smallSpec, stringify(withoutNode4));
  const first = await runKboot(['apply', smallSpec], sandbox.env);
  if (first.code !== 0) throw new Error(`apply exited ${first.code}\n${first.stdout}\n${first.stderr}`);
  const before = await readCounters(FLEET, OLD_HOSTS);

  const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
  if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  expect(result.stdout).toContain('10 steps applied, 21 already done (skipped), 0 repaired after drift, 0 failed');
  for (const host of OLD_HOSTS) expect(result.stdout).toContain(`${host}: hosts-file applied`);
  expect(result.stdout).toContain('node4: node applied');

  expect(await readCounters(FLEET, OLD_HOSTS)).toEqual(before);
  const node4 = sandbox.fleet.hosts.find((host) => host.name === 'node4');
  expect(await onHost(FLEET, 'master', 'cat /etc/hosts')).toContain(`${node4?.address} node4`);
  const nodes = JSON.parse(await onHost(FLEET, 'master', 'curl -fsS http://127.0.0.1:8080/api/v1/nodes'));
  expect(nodes.items.map((item: { metadata: { name: string } }) => item.metadata.name).sort()).toEqual(['node1', 'node2', 'node3', 'node4']);
});
