/** Who is who in a cluster spec: etcd members, masters, nodes and the URLs they reach each other by. */
import type { ClusterSpec, HostSpec, Role } from './spec.js';

export function hostsWithRole(spec: ClusterSpec, role: Role): HostSpec[] {
  return spec.hosts.filter((host) => host.roles.includes(role));
}

export function hasRole(host: HostSpec, role: Role): boolean {
  return host.roles.includes(role);
}

export function findHost(spec: ClusterSpec, name: string): HostSpec {
  const host = spec.hosts.find((candidate) => candidate.name === name);
  if (!host) throw new Error(`host ${name} is not in cluster ${spec.name}`);
  return host;
}

/** Client URLs of every etcd member, comma-separated, as etcd, flannel and the API server take them. */
export function etcdClientUrls(spec: ClusterSpec): string {
  return hostsWithRole(spec, 'etcd')
    .map((member) => `http://${member.address}:${spec.etcd.clientPort}`)
    .join(',');
}

/** etcd's --initial-cluster value: `name=peer-url` for every member. */
export function etcdInitialCluster(spec: ClusterSpec): string {
  return hostsWithRole(spec, 'etcd')
    .map((member) => `${member.name}=http://${member.address}:${spec.etcd.peerPort}`)
    .join(',');
}

/** The master that nodes and kboot's checks talk to: the first in the spec. */
export function primaryMaster(spec: ClusterSpec): HostSpec {
  const master = hostsWithRole(spec, 'master')[0];
  if (!master) throw new Error(`cluster ${spec.name} has no host with the master role`);
  return master;
}

export function primaryEtcdMember(spec: ClusterSpec): HostSpec {
  const member = hostsWithRole(spec, 'etcd')[0];
  if (!member) throw new Error(`cluster ${spec.name} has no host with the etcd role`);
  return member;
}

export function apiServerUrl(spec: ClusterSpec): string {
  return `http://${primaryMaster(spec).name}:${spec.kubernetes.apiPort}`;
}

/** Returns the network config that the flannel network gate writes to `<prefix>/config` for flanneld. */
export function flannelConfig(spec: ClusterSpec): { Network: string; SubnetLen: number; Backend: { Type: string } } {
  return { Network: spec.flannel.network, SubnetLen: spec.flannel.subnetLen, Backend: { Type: spec.flannel.backend } };
}
