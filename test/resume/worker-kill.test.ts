/**
 * A worker killed with SIGKILL mid-rollout, twice (etcd phase, node phase), and replaced: the rollout
 * completes and no completed step is applied again, as the hosts' own counters show. Then a re-apply
 * of the finished cluster changes nothing, and a one-value spec change re-applies only what renders it.
 * Last, a worker replaced mid-step by one whose workflow code cannot replay the running host run:
 * the host run fails at once with the nondeterminism error, and the released code finishes it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { DOCKER_STORAGE } from '../../plan/steps/docker';
import { REPO_ROOT, runKboot } from '../helpers/kboot';
import { connectClient, type Counters, etcdClusterIds, onHost, readCounters, repeatedWork, stepStatus, useSandboxRollout, waitForRollout } from '../helpers/rollout';

const UNGUARDED_VARIANT = resolve(REPO_ROOT, 'test/fixtures/workflow-variants/extra-step-unguarded.ts');

const FLEET = 'rsmkill';
const HOSTS = ['master', 'node1', 'node2', 'node3'];

jest.setTimeout(15 * 60_000);

const sandbox = useSandboxRollout(FLEET, 4);

describe('worker killed mid-rollout', () => {
  let counters: Counters;
  let clusterIds: string[];

  test('rollout completes after two kills', async () => {
    const { client, close } = await connectClient();
    try {
      const started = await runKboot(['apply', '--no-wait', sandbox.fleet.specFile], sandbox.env);
      expect(started.code).toBe(0);

      await waitForRollout(client, FLEET, (state) => stepStatus(state, 'node1', 'etcd') === 'running' || stepStatus(state, 'node1', 'etcd') === 'done');
      await sandbox.crashWorker();

      await waitForRollout(client, FLEET, (state) => ['running', 'done'].includes(stepStatus(state, 'node2', 'node') ?? ''));
      await sandbox.crashWorker();

      const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
      if (result.code !== 0) throw new Error(`apply exited ${result.code}\n${result.stdout}\n${result.stderr}\n${sandbox.worker.output().slice(-3000)}`);
      expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
    } finally {
      await close();
    }
    counters = await readCounters(FLEET, HOSTS);
    expect(repeatedWork(counters)).toEqual([]);
    expect(counters.node3.start['kubelet.service']).toBe(1);
    clusterIds = await etcdClusterIds(FLEET, 'master');
    expect(clusterIds).toHaveLength(3);
    expect(new Set(clusterIds).size).toBe(1);
  });

  test('re-apply changes nothing', async () => {
    const result = await runKboot(['apply', sandbox.fleet.specFile], sandbox.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 steps applied, 25 already done (skipped)');
    expect(await readCounters(FLEET, HOSTS)).toEqual(counters);
    expect(await etcdClusterIds(FLEET, 'master')).toEqual(clusterIds);
  });

  test('one changed value re-applies its step only', async () => {
    const spec = parse(readFileSync(sandbox.fleet.specFile, 'utf8'));
    spec.kubernetes.admissionControl.push('AlwaysAdmit');
    const specFile = `${sandbox.fleet.specFile}.changed.yaml`;
    writeFileSync(specFile, stringify(spec));

    const result = await runKboot(['apply', specFile], sandbox.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1 step applied, 24 already done (skipped)');
    expect(result.stdout).toMatch(/master: master applied/);

    const after = await readCounters(FLEET, HOSTS);
    expect(after.master.start['kube-apiserver.service']).toBe(2);
    expect(after.master.start['kube-controller-manager.service']).toBe(1);
    expect(after.master.start['kube-scheduler.service']).toBe(1);
    const { master: masterAfter, ...othersAfter } = after;
    const { master: masterBefore, ...othersBefore } = counters;
    expect(othersAfter).toEqual(othersBefore);
    expect(masterAfter.install).toEqual(masterBefore.install);
  });

  test('unreplayable code fails the host run', async () => {
    // docker on node1 drifts, so its run (flanneld, docker) re-applies docker. The slow start
    // leaves time to replace the worker mid-step, and the flag file marks that the step got there.
    await onHost(
      FLEET,
      'node1',
      `mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nExecStartPre=/bin/sh -c "touch /run/kboot-test-docker-starting; sleep 15"\\n' > /etc/systemd/system/docker.service.d/05-slow-start.conf; systemctl daemon-reload; rm -f /run/kboot-test-docker-starting; echo '# edited by hand' >> ${DOCKER_STORAGE}`,
    );
    const specFile = `${sandbox.fleet.specFile}.changed.yaml`;
    const { client, close } = await connectClient();
    try {
      expect((await runKboot(['apply', '--no-wait', specFile], sandbox.env)).code).toBe(0);
      for (let attempt = 0; attempt < 120 && (await onHost(FLEET, 'node1', 'test -e /run/kboot-test-docker-starting && echo yes || true')).trim() !== 'yes'; attempt++) {
        await new Promise((wake) => setTimeout(wake, 500));
      }
      expect(stepStatus(await waitForRollout(client, FLEET, () => true), 'node1', 'docker')).toBe('running');
      await sandbox.crashWorker(['--workflows', UNGUARDED_VARIANT]);

      const parked = await waitForRollout(client, FLEET, (state) => state.phase === 'waiting-for-operator');
      expect(parked.hosts.node1.status).toBe('failed');
      expect(parked.hosts.node1.failure?.error).toMatch(/nondeterminism/i);
      for (const host of ['master', 'node2', 'node3']) expect(parked.hosts[host].status).toBe('done');
      const status = await runKboot(['status', FLEET], sandbox.env);
      expect(status.code).toBe(4);
      expect(status.stdout).toMatch(/node1\s+failed\b.*[Nn]ondeterminism/);

      // Back on the released code, a retry finishes the host.
      await sandbox.crashWorker();
      expect((await runKboot(['retry', FLEET, 'node1'], sandbox.env)).code).toBe(0);
      const result = await runKboot(['apply', specFile], sandbox.env);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
    } finally {
      await close();
    }
  });
});
