/**
 * flanneld on a node: /etc/sysconfig/flanneld pointing at every etcd member and the spec's key
 * prefix, start flanneld, then wait for its lease in /run/flannel/subnet.env. The flannel package's
 * ExecStartPost turns the lease into /run/flannel/docker, which docker reads.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import { etcdClientUrls } from '../topology.js';
import type { StepRendering } from '../types.js';
import { environmentFile, unitActive } from './common.js';

export const FLANNELD_SYSCONFIG = '/etc/sysconfig/flanneld';

export function renderFlanneld(spec: ClusterSpec, host: HostSpec): StepRendering {
  return {
    step: 'flanneld',
    host: host.name,
    title: 'Configure and start flanneld',
    phase: 'network',
    files: [
      environmentFile(FLANNELD_SYSCONFIG, [
        ['FLANNEL_ETCD_ENDPOINTS', etcdClientUrls(spec)],
        ['FLANNEL_ETCD_PREFIX', spec.flannel.etcdPrefix],
        // Pin the interface to the address the spec gives, so a multi-homed host does not put
        // the overlay on its management network by accident.
        ['FLANNEL_OPTIONS', `-iface=${host.address}`],
      ]),
    ],
    blocks: [],
    ensures: [],
    units: [{ unit: 'flanneld', readsFiles: [FLANNELD_SYSCONFIG] }],
    verify: [
      unitActive('flanneld'),
      {
        description: 'flannel lease written to /run/flannel/subnet.env',
        script: 'grep -q "^FLANNEL_SUBNET=" /run/flannel/subnet.env && test -s /run/flannel/docker',
        timeoutSeconds: 60,
        intervalSeconds: 1,
      },
    ],
  };
}
