/**
 * flanneld on a node: /etc/sysconfig/flanneld pointing at every etcd member and the spec's key
 * prefix, start flanneld, then wait for its lease in /run/flannel/subnet.env. The flannel package's
 * ExecStartPost turns the lease into /run/flannel/docker, which docker reads.
 *
 * The lease must come from the spec's network. A flanneld that found another config (a stale key
 * in the keyspace its etcd API reads, or one it read before the network changed) is restarted,
 * and verification fails while it still leases from another network.
 */
import { quote } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import { etcdClientUrls, flannelConfig } from '../topology.js';
import type { StepRendering } from '../types.js';
import { environmentFile, unitActive } from './common.js';

export const FLANNELD_SYSCONFIG = '/etc/sysconfig/flanneld';

export function renderFlanneld(spec: ClusterSpec, host: HostSpec): StepRendering {
  const leaseInNetwork = `grep -qx ${quote(`FLANNEL_NETWORK=${spec.flannel.network}`)} /run/flannel/subnet.env`;
  const sysconfig = environmentFile(FLANNELD_SYSCONFIG, [
    ['FLANNEL_ETCD_ENDPOINTS', etcdClientUrls(spec)],
    ['FLANNEL_ETCD_PREFIX', spec.flannel.etcdPrefix],
    // Pin the interface to the address the spec gives, so a multi-homed host does not put
    // the overlay on its management network by accident.
    ['FLANNEL_OPTIONS', `-iface=${host.address}`],
  ]);
  // flanneld reads the backend and subnet length from etcd only when it starts. Recording the
  // network config here makes a change to it change this file, which restarts flanneld.
  sysconfig.content += `# network config in etcd at ${spec.flannel.etcdPrefix}/config: ${JSON.stringify(flannelConfig(spec))}\n`;
  return {
    step: 'flanneld',
    host: host.name,
    title: 'Configure and start flanneld',
    phase: 'network',
    files: [sysconfig],
    blocks: [],
    ensures: [],
    units: [{ unit: 'flanneld', readsFiles: [FLANNELD_SYSCONFIG], restartUnless: `( ${leaseInNetwork} )` }],
    verify: [
      unitActive('flanneld'),
      {
        description: 'flannel lease written to /run/flannel/subnet.env',
        script: `grep -q "^FLANNEL_SUBNET=" /run/flannel/subnet.env && test -s /run/flannel/docker || exit 1
${leaseInNetwork} || { echo "flanneld leased from $(sed -n 's/^FLANNEL_NETWORK=//p' /run/flannel/subnet.env), not flannel.network ${spec.flannel.network}: it reads another network config (check flannel.etcdApi and flannel.etcdPrefix against what is in etcd)" >&2; exit 1; }`,
        timeoutSeconds: 60,
        intervalSeconds: 1,
      },
    ],
  };
}
