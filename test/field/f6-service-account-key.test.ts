/**
 * F6: the admission list includes ServiceAccount and the spec names no signing key. kboot creates
 * the key pair on the master and passes it to kube-apiserver (--service-account-key-file) and
 * kube-controller-manager (--service-account-private-key-file). A controller manager whose unit
 * drops the flag still serves /healthz, so only the master step's verification catches it, and
 * it names the flag.
 */
import type { UpResult } from '../../sandbox/fleet/index';
import { runKboot, startWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/kboot';
import { onHost, readCounters } from '../helpers/rollout';
import { describeRun, freshFleet, writeSpec, removeFieldFleet } from './fleet';

const FLEET = 'fc6';
const KEY = '/etc/kubernetes/serviceaccount.key';
const PUBLIC_KEY = '/etc/kubernetes/serviceaccount.pub';
// CentOS 7's default admission list for kube-apiserver 1.5.
const ADMISSION = ['NamespaceLifecycle', 'NamespaceExists', 'LimitRanger', 'SecurityContextDeny', 'ServiceAccount', 'ResourceQuota'];
const SITE_DROP_IN = '/etc/systemd/system/kube-controller-manager.service.d/50-site.conf';

jest.setTimeout(10 * 60_000);

let fleet: UpResult;
let worker: WorkerProcess;
let specFile: string;
const env = { KBOOT_TASK_QUEUE: uniqueTaskQueue('fc6') };

async function commandLine(unit: string): Promise<string[]> {
  return (await onHost(FLEET, 'master', `tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value ${unit})/cmdline`)).split('\n');
}

beforeAll(async () => {
  fleet = await freshFleet(FLEET, 3);
  specFile = writeSpec(fleet, 'service-account.yaml', (spec) => {
    spec.kubernetes = { ...spec.kubernetes, admissionControl: ADMISSION };
  });
  worker = startWorker(env);
});

afterAll(async () => {
  await removeFieldFleet(FLEET, worker);
});

test('apply creates the key pair on the master', async () => {
  const result = await runKboot(['apply', specFile], env);
  if (result.code !== 0) throw new Error(`kboot apply: ${describeRun(result)}\nworker:\n${worker.output().slice(-4000)}`);

  expect((await onHost(FLEET, 'master', `stat -c '%U:%G %a' ${KEY} ${PUBLIC_KEY}`)).trim().split('\n')).toEqual(['root:kube 640', 'root:root 644']);
  await onHost(FLEET, 'master', `openssl rsa -in ${KEY} -check -noout`);
  await onHost(FLEET, 'master', `openssl rsa -in ${KEY} -pubout | cmp - ${PUBLIC_KEY}`);
  expect(await onHost(FLEET, 'node1', `test -e ${KEY} && echo present || echo absent`)).toBe('absent\n');
});

test('both daemons run with their key flags', async () => {
  expect(await commandLine('kube-apiserver')).toContain(`--service-account-key-file=${PUBLIC_KEY}`);
  expect(await commandLine('kube-controller-manager')).toContain(`--service-account-private-key-file=${KEY}`);
  expect(await onHost(FLEET, 'master', 'cat /var/log/kboot-sandbox/kube-controller-manager.service.log')).toContain(
    `Starting service account token controller with key ${KEY}`,
  );
});

test('second apply keeps the key and restarts nothing', async () => {
  const keyBefore = await onHost(FLEET, 'master', `sha256sum ${KEY}`);
  const countersBefore = await readCounters(FLEET, ['master']);
  const result = await runKboot(['apply', specFile], env);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/0 steps applied/);
  expect(await onHost(FLEET, 'master', `sha256sum ${KEY}`)).toBe(keyBefore);
  expect(await readCounters(FLEET, ['master'])).toEqual(countersBefore);
});

test('a unit that drops the flag fails verify naming it', async () => {
  // A site drop-in with an ExecStart that predates KUBE_CONTROLLER_MANAGER_ARGS.
  await onHost(
    FLEET,
    'master',
    `mkdir -p ${SITE_DROP_IN.replace(/\/[^/]+$/, '')} && printf '%s\\n' '[Service]' 'ExecStart=' 'ExecStart=/usr/bin/kube-controller-manager $KUBE_LOGTOSTDERR $KUBE_LOG_LEVEL $KUBE_MASTER' > ${SITE_DROP_IN}
systemctl daemon-reload && systemctl restart kube-controller-manager`,
  );
  expect(await commandLine('kube-controller-manager')).not.toContain(`--service-account-private-key-file=${KEY}`);

  const result = await runKboot(['apply', specFile], env);
  expect(result.code).toBe(4);
  expect(result.stderr).toMatch(/master: master failed: .*kube-controller-manager runs with --service-account-private-key-file=\/etc\/kubernetes\/serviceaccount\.key/);
});

test('without the drop-in a retry finishes', async () => {
  await onHost(FLEET, 'master', `rm -f ${SITE_DROP_IN} && systemctl daemon-reload`);
  const retry = await runKboot(['retry', FLEET, 'master'], env);
  expect(retry.code).toBe(0);
  const result = await runKboot(['apply', specFile], env);
  if (result.code !== 0) throw new Error(`kboot apply after retry: ${describeRun(result)}`);
  expect(result.stdout).toContain(`rollout ${FLEET} succeeded`);
  expect(await commandLine('kube-controller-manager')).toContain(`--service-account-private-key-file=${KEY}`);
});
