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

/** packages.installTimeout when the spec has none. */
export const DEFAULT_INSTALL_TIMEOUT = '10m';

/** Seconds in a spec duration such as `90s`, `10m` or `1h` (sub-second values round up). */
export function durationSeconds(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`invalid duration ${text}`);
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.max(1, Math.ceil(Number(match[1]) * factor));
}

/**
 * `yum install` bounded in time, after any yum already running on the host has exited: two
 * installs never run at once, and a hung one is killed rather than left holding the lock.
 */
function yumInstall(packages: string[], timeoutSeconds: number): string {
  return `deadline=$((SECONDS + ${timeoutSeconds}))
while pid=$(cat /var/run/yum.pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "kboot: failed yum is still running as pid $pid ($(tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null)) after ${timeoutSeconds}s; stop it or remove a stale /var/run/yum.pid" >&2
    exit 1
  fi
  echo "kboot: waiting for yum pid $pid to exit"
  sleep 2
done
timeout --kill-after=10 ${timeoutSeconds} ${command('yum', 'install', '-y', ...packages)}
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "kboot: failed yum install timed out after ${timeoutSeconds}s and was killed (held yum lock or unreachable repository?)" >&2
fi
( exit "$status" )`;
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
        // Specs recorded by rollouts that started before installTimeout existed lack it.
        apply: yumInstall(packages, durationSeconds(spec.packages.installTimeout ?? DEFAULT_INSTALL_TIMEOUT)),
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
