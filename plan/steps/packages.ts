/**
 * Packages: the yum repository file, then the packages the host's roles need. Installing is
 * skipped when `rpm -q` finds every package, so a re-run never touches yum.
 */
import { command } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import { hasRole } from '../topology.js';
import type { StepRendering } from '../types.js';
import { MANAGED_HEADER } from './common.js';

/** RPM names per role, as CentOS 7's extras repository ships them. */
export function packagesFor(host: HostSpec): string[] {
  const names = new Set<string>();
  if (hasRole(host, 'etcd')) names.add('etcd');
  if (hasRole(host, 'master')) names.add('kubernetes');
  if (hasRole(host, 'node')) names.add('kubernetes').add('flannel').add('docker');
  return [...names].sort();
}

export function repoFilePath(spec: ClusterSpec): string {
  return `/etc/yum.repos.d/${spec.packages.repository.id}.repo`;
}

export function renderPackages(spec: ClusterSpec, host: HostSpec): StepRendering {
  const repo = spec.packages.repository;
  const packages = packagesFor(host);
  const repoFile = [
    MANAGED_HEADER.trimEnd(),
    `[${repo.id}]`,
    `name=${repo.name}`,
    `baseurl=${repo.baseurl}`,
    'enabled=1',
    `gpgcheck=${repo.gpgcheck ? 1 : 0}`,
    '',
  ].join('\n');
  return {
    step: 'packages',
    host: host.name,
    title: `Install ${packages.join(', ')}`,
    phase: 'packages',
    files: [{ path: repoFilePath(spec), content: repoFile, mode: '0644' }],
    blocks: [],
    ensures: [
      {
        description: `packages ${packages.join(' ')} are installed`,
        check: `${command('rpm', '-q', ...packages)} >/dev/null`,
        apply: command('yum', 'install', '-y', ...packages),
      },
    ],
    units: [],
    verify: [
      {
        description: `rpm -q ${packages.join(' ')}`,
        script: `${command('rpm', '-q', ...packages)} >/dev/null`,
        timeoutSeconds: 0,
        intervalSeconds: 1,
      },
    ],
  };
}
