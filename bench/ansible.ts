/**
 * The Ansible side of the benchmark: an inventory written from the fleet's cluster spec, playbook
 * runs with forks equal to the fleet size, and a check that the playbook wrote the files kboot's
 * steps write.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ClusterSpec } from '../plan/spec.js';
import { flannelConfig, renderStep, stepsForHost } from '../plan/index.js';
import { hostExec } from '../sandbox/fleet/index.js';
import { describeFailure, mapSettledWithLimit } from '../sandbox/fleet/run.js';
import { timedRun, type TimedRun } from './processes.js';

/** The first line of every file the playbook writes, where kboot writes its own header. */
export const ANSIBLE_HEADER = '# Managed by Ansible (kboot benchmark playbook): edits here are replaced on the next run.';

/**
 * Writes an inventory with the spec's hosts, groups per role and the cluster values, and returns
 * its path. Values derived from several hosts (etcd URLs, the API server URL) are Jinja
 * expressions over the groups, as an Ansible user would write them.
 */
export function writeInventory(spec: ClusterSpec, dir: string): string {
  const hostVars = (host: ClusterSpec['hosts'][number]) => ({ ansible_host: host.address });
  const group = (role: 'etcd' | 'master' | 'node') =>
    Object.fromEntries(spec.hosts.filter((host) => host.roles.includes(role)).map((host) => [host.name, {}]));
  const inventory = {
    all: {
      vars: {
        ansible_user: spec.ssh.user,
        ansible_port: spec.ssh.port,
        ansible_ssh_private_key_file: spec.ssh.privateKeyFile,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${spec.ssh.knownHostsFile} -o StrictHostKeyChecking=yes`,
        ansible_become: spec.ssh.sudo,
        cluster_name: spec.name,
        managed_header: ANSIBLE_HEADER,
        repository: spec.packages.repository,
        etcd: spec.etcd,
        flannel: spec.flannel,
        docker: spec.docker,
        kubernetes: spec.kubernetes,
        flannel_config: flannelConfig(spec),
        etcd_initial_cluster:
          "{% for member in groups['etcd'] %}{{ member }}=http://{{ hostvars[member].ansible_host }}:{{ etcd.peerPort }}{{ '' if loop.last else ',' }}{% endfor %}",
        etcd_client_urls: "{% for member in groups['etcd'] %}http://{{ hostvars[member].ansible_host }}:{{ etcd.clientPort }}{{ '' if loop.last else ',' }}{% endfor %}",
        api_server_url: "http://{{ groups['masters'][0] }}:{{ kubernetes.apiPort }}",
      },
      hosts: Object.fromEntries(spec.hosts.map((host) => [host.name, hostVars(host)])),
      // Group names differ from host names such as "master", which Ansible would confuse.
      children: { etcd: { hosts: group('etcd') }, masters: { hosts: group('master') }, nodes: { hosts: group('node') } },
    },
  };
  const path = join(dir, 'inventory.yml');
  writeFileSync(path, stringify(inventory));
  return path;
}

export interface PlaybookRun extends TimedRun {
  /** Hosts Ansible wrote to its retry file: those that failed or were unreachable. */
  failedHosts: string[];
  /** The run's whole output. */
  logFile: string;
}

/** Runs bench/ansible/site.yml with `forks` forks, passing `limit` to --limit. */
export async function runPlaybook(options: {
  ansibleDir: string;
  inventory: string;
  workDir: string;
  forks: number;
  limit?: string;
  timeoutMs: number;
}): Promise<PlaybookRun> {
  const { ansibleDir, workDir } = options;
  mkdirSync(join(workDir, 'cp'), { recursive: true });
  mkdirSync(join(workDir, 'tmp'), { recursive: true });
  const retryFile = join(workDir, 'site.retry');
  const argv = ['ansible-playbook', '-i', options.inventory, '-f', String(options.forks), join(ansibleDir, 'site.yml')];
  if (options.limit) argv.push('--limit', options.limit);
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(workDir, 'cp'),
    ANSIBLE_RETRY_FILES_SAVE_PATH: workDir,
    ANSIBLE_LOCAL_TEMP: join(workDir, 'tmp'),
    ANSIBLE_NOCOLOR: '1',
  };
  // The retry file of an earlier run must not pass for this run's.
  if (existsSync(retryFile)) writeFileSync(retryFile, '');
  const run = await timedRun(argv, { env, timeoutMs: options.timeoutMs, cwd: ansibleDir });
  const logFile = join(workDir, `ansible-playbook-${Date.now().toString(36)}.log`);
  writeFileSync(logFile, `$ ${argv.join(' ')}\n${run.stdout}\n${run.stderr}`);
  const failedHosts = existsSync(retryFile) ? readFileSync(retryFile, 'utf8').split('\n').filter(Boolean) : [];
  return { ...run, failedHosts, logFile };
}

/** Ends the SSH master connections Ansible left for ControlPersist, so none outlives the scenario. */
export async function closeControlMasters(workDir: string): Promise<void> {
  const dir = join(workDir, 'cp');
  if (!existsSync(dir)) return;
  for (const socket of readdirSync(dir)) {
    await timedRun(['ssh', '-o', `ControlPath=${join(dir, socket)}`, '-O', 'exit', 'bench-control-master'], { timeoutMs: 10_000 });
  }
}

/**
 * Compares what the playbook wrote on every host with kboot's rendering of each step: every file
 * with its content (the header line aside) and mode, and the /etc/hosts block. Returns the
 * differences, one line each.
 */
export async function compareWithKboot(spec: ClusterSpec, fleet: string): Promise<string[]> {
  const results = await mapSettledWithLimit(spec.hosts, 10, async (host) => {
    const differences: string[] = [];
    for (const step of stepsForHost(host)) {
      const rendering = renderStep(spec, step, host.name);
      for (const file of rendering.files) {
        const result = await hostExec(fleet, host.name, ['bash', '-c', 'stat -c %a "$1" && cat "$1"', 'compare', file.path], { timeoutMs: 30_000 });
        if (result.exitCode !== 0) {
          differences.push(`${host.name}: ${file.path}: ${describeFailure(result)}`);
          continue;
        }
        const [mode, ...lines] = result.stdout.split('\n');
        const body = (text: string): string => text.split('\n').slice(1).join('\n');
        if (mode !== file.mode.replace(/^0/, '')) differences.push(`${host.name}: ${file.path}: mode ${mode}, kboot writes ${file.mode}`);
        if (body(lines.join('\n')) !== body(file.content)) differences.push(`${host.name}: ${file.path}: content differs from kboot's ${step} step`);
      }
      for (const block of rendering.blocks) {
        const result = await hostExec(fleet, host.name, ['cat', block.path], { timeoutMs: 30_000 });
        const expected = `# BEGIN ${block.marker}\n${block.content}\n# END ${block.marker}\n`;
        if (!result.stdout.includes(expected)) differences.push(`${host.name}: ${block.path}: no block "${block.marker}" as kboot writes it`);
      }
    }
    return differences;
  });
  return results.flatMap((result) => (result.status === 'fulfilled' ? result.value : [`${String(result.reason)}`]));
}
