/**
 * etcd member: /etc/etcd/etcd.conf with the full initial cluster, then start etcd. The quorum
 * gate, not this step, waits for the cluster to form.
 *
 * `ETCD_INITIAL_CLUSTER_STATE=new` is safe on re-runs: etcd ignores every `initial-*` setting once
 * its data directory holds a member.
 * TODO(etcd-membership): a member added to an existing cluster needs `member add` and state
 * `existing`; this step only bootstraps all members together.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import { etcdInitialCluster } from '../topology.js';
import type { StepRendering } from '../types.js';
import { environmentFile, unitActive } from './common.js';

export const ETCD_CONF = '/etc/etcd/etcd.conf';

export function renderEtcd(spec: ClusterSpec, host: HostSpec): StepRendering {
  const { clientPort, peerPort, dataDir, initialClusterToken } = spec.etcd;
  const entries: Array<[string, string]> = [
    ['ETCD_NAME', host.name],
    ['ETCD_DATA_DIR', dataDir],
    ['ETCD_LISTEN_PEER_URLS', `http://${host.address}:${peerPort}`],
    ['ETCD_LISTEN_CLIENT_URLS', `http://${host.address}:${clientPort},http://127.0.0.1:${clientPort}`],
    ['ETCD_INITIAL_ADVERTISE_PEER_URLS', `http://${host.address}:${peerPort}`],
    ['ETCD_ADVERTISE_CLIENT_URLS', `http://${host.address}:${clientPort}`],
    ['ETCD_INITIAL_CLUSTER', etcdInitialCluster(spec)],
    ['ETCD_INITIAL_CLUSTER_STATE', 'new'],
    ['ETCD_INITIAL_CLUSTER_TOKEN', initialClusterToken],
  ];
  // flanneld before 0.10 reads its network config through the v2 API, which etcd 3.4 serves only
  // when asked to.
  if (spec.flannel.etcdApi === 'v2') entries.push(['ETCD_ENABLE_V2', 'true']);
  return {
    step: 'etcd',
    host: host.name,
    title: 'Configure and start the etcd member',
    phase: 'etcd',
    files: [environmentFile(ETCD_CONF, entries)],
    blocks: [],
    ensures: [],
    units: [{ unit: 'etcd', readsFiles: [ETCD_CONF], noBlock: true }],
    verify: [{ ...unitActive('etcd'), description: 'etcd is active or waiting for its peers', script: "systemctl is-active etcd | grep -qxE 'active|activating'" }],
  };
}
