/**
 * The cluster spec that `up` writes for a fleet (`<root>/<fleet>/cluster.yaml`), in the schema the
 * product validates: kboot can roll the cluster out on the fleet with no edits.
 */
import * as path from 'node:path';
import { Document } from 'yaml';

import type { HostLayout } from './layout.js';

export interface ClusterSpecInput {
  name: string;
  hosts: readonly HostLayout[];
  privateKeyFile: string;
  knownHostsFile: string;
  /** Absolute path of the repository's sandbox/repo folder, served to yum as a file:// baseurl. */
  packageRepositoryDir: string;
}

export function renderClusterSpec(input: ClusterSpecInput): string {
  if (!path.isAbsolute(input.packageRepositoryDir)) {
    throw new Error(`render cluster spec: package repository dir ${input.packageRepositoryDir} is not absolute`);
  }
  const spec = {
    name: input.name,
    ssh: {
      user: 'kboot',
      port: 22,
      privateKeyFile: input.privateKeyFile,
      knownHostsFile: input.knownHostsFile,
      sudo: true,
    },
    hosts: input.hosts.map((host) => ({ name: host.name, address: host.address, roles: [...host.roles] })),
    packages: {
      repository: {
        id: 'kboot-sandbox',
        name: 'kboot sandbox repository (stand-in RPMs)',
        baseurl: `file://${input.packageRepositoryDir}`,
        gpgcheck: false,
      },
    },
    etcd: {
      clientPort: 2379,
      peerPort: 2380,
      dataDir: '/var/lib/etcd/default.etcd',
      initialClusterToken: `${input.name}-etcd`,
    },
    flannel: {
      network: '10.244.0.0/16',
      subnetLen: 24,
      backend: 'vxlan',
      etcdPrefix: '/kboot.io/network',
      etcdApi: 'v3',
    },
    docker: {
      dataRoot: '/var/lib/docker',
      storageDriver: 'overlay2',
      storageOptions: [],
    },
    kubernetes: {
      apiPort: 8080,
      serviceClusterIpRange: '10.254.0.0/16',
      admissionControl: ['NamespaceLifecycle', 'NamespaceExists', 'LimitRanger', 'ResourceQuota'],
    },
    rollout: {
      parallelism: 10,
    },
  };

  const document = new Document(spec);
  // One line per host, as a person would write the list by hand.
  const hostList = document.get('hosts', true) as { items: { flow?: boolean }[] };
  for (const item of hostList.items) item.flow = true;
  document.commentBefore = ` kboot cluster spec for the sandbox fleet ${input.name}, written by the sandbox fleet's up command`;
  return document.toString({ lineWidth: 0 });
}
