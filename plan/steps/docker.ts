/**
 * docker on a node, after flannel: a drop-in orders docker after flanneld and feeds it flannel's
 * options (--bip, --mtu); the storage options set the driver and data root before docker's first
 * start. A docker that started before flannel had a lease keeps its old bridge address, so it is
 * restarted whenever docker0 does not match the lease.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import type { StepRendering } from '../types.js';
import { environmentFile, MANAGED_HEADER, unitActive } from './common.js';

export const DOCKER_DROP_IN = '/etc/systemd/system/docker.service.d/10-kboot-flannel.conf';
export const DOCKER_STORAGE = '/etc/sysconfig/docker-storage';

/**
 * Exits 0 when docker0's address is the first address of the flannel lease and its MTU is the
 * lease's; otherwise prints both and exits 1.
 */
export const DOCKER_BRIDGE_MATCHES_LEASE = `(
  . /run/flannel/subnet.env
  actual=$(ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}' | head -n1)
  mtu=$(cat /sys/class/net/docker0/mtu 2>/dev/null || true)
  if [ "$actual" != "$FLANNEL_SUBNET" ] || [ "$mtu" != "$FLANNEL_MTU" ]; then
    echo "docker0 has \${actual:-no address} mtu \${mtu:-none}, flannel lease is $FLANNEL_SUBNET mtu $FLANNEL_MTU" >&2
    exit 1
  fi
)`;

export function dockerStorageOptions(spec: ClusterSpec): string {
  const { storageDriver, dataRoot, storageOptions } = spec.docker;
  return [`--storage-driver=${storageDriver}`, `--graph=${dataRoot}`, ...storageOptions.map((option) => `--storage-opt=${option}`)].join(' ');
}

export function renderDocker(spec: ClusterSpec, host: HostSpec): StepRendering {
  const dropIn = [
    MANAGED_HEADER.trimEnd(),
    '[Unit]',
    'After=flanneld.service',
    'Requires=flanneld.service',
    '',
    '[Service]',
    'EnvironmentFile=-/run/flannel/docker',
    '',
  ].join('\n');
  return {
    step: 'docker',
    host: host.name,
    title: 'Configure docker on the flannel network and start it',
    phase: 'docker',
    files: [
      { path: DOCKER_DROP_IN, content: dropIn, mode: '0644' },
      environmentFile(DOCKER_STORAGE, [['DOCKER_STORAGE_OPTIONS', dockerStorageOptions(spec)]]),
    ],
    blocks: [],
    ensures: [],
    units: [{ unit: 'docker', readsFiles: [DOCKER_DROP_IN, DOCKER_STORAGE], restartUnless: DOCKER_BRIDGE_MATCHES_LEASE }],
    verify: [
      unitActive('docker'),
      { description: 'docker0 matches the flannel lease', script: DOCKER_BRIDGE_MATCHES_LEASE, timeoutSeconds: 30, intervalSeconds: 1 },
    ],
  };
}
