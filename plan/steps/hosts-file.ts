/** /etc/hosts: one marked block naming every cluster host, so names resolve without DNS. */
import type { ClusterSpec, HostSpec } from '../spec.js';
import type { StepRendering } from '../types.js';

export const HOSTS_BLOCK_MARKER = 'kboot cluster hosts';

export function renderHostsFile(spec: ClusterSpec, host: HostSpec): StepRendering {
  const lines = spec.hosts
    .filter((entry) => /^[0-9.]+$/.test(entry.address))
    .map((entry) => `${entry.address} ${entry.name}`);
  return {
    step: 'hosts-file',
    host: host.name,
    title: 'Add cluster hosts to /etc/hosts',
    phase: 'hosts',
    files: [],
    blocks: [{ path: '/etc/hosts', marker: `${HOSTS_BLOCK_MARKER} (${spec.name})`, content: lines.join('\n') }],
    ensures: [],
    units: [],
    verify: [],
  };
}
