/**
 * Checks across the fields of a schema-valid cluster spec: what a schema cannot express, such as
 * two hosts with one address, a pod network over the service range or two daemons on one port.
 * Each problem is one line naming the spec path it is about.
 */
import type { ClusterSpec, HostSpec } from '../plan/spec.js';
import { hasRole, hostsWithRole } from '../plan/topology.js';

export type PathSegment = string | number;

/** Ends the check with an error at `path`; it never returns. */
export type FailAt = (path: PathSegment[], message: string) => never;

/** A finding that does not stop the rollout but that an operator should see. */
export interface SpecWarning {
  specPath: string;
  message: string;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function cidrRange(cidr: string): [number, number] {
  const [address, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4ToNumber(address) / size) * size;
  return [start, start + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [aStart, aEnd] = cidrRange(a);
  const [bStart, bEnd] = cidrRange(b);
  return aStart <= bEnd && bStart <= aEnd;
}

function inRange(address: string, cidr: string): boolean {
  const [start, end] = cidrRange(cidr);
  const value = ipv4ToNumber(address);
  return value >= start && value <= end;
}

function isIpv4(address: string): boolean {
  return /^[0-9.]+$/.test(address);
}

function checkHosts(spec: ClusterSpec, fail: FailAt): void {
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  spec.hosts.forEach((host, index) => {
    // DNS names are case-insensitive, so Node1.example and node1.example are one host.
    const address = host.address.toLowerCase();
    if (names.has(host.name)) fail(['hosts', index, 'name'], `duplicate host name ${host.name} (also hosts[${names.get(host.name)}])`);
    if (addresses.has(address)) fail(['hosts', index, 'address'], `duplicate address ${host.address} (also hosts[${addresses.get(address)}])`);
    if (new Set(host.roles).size !== host.roles.length) fail(['hosts', index, 'roles'], `lists a role twice: ${host.roles.join(', ')}`);
    if (spec.hosts.length > 1 && /^127\./.test(address)) {
      fail(['hosts', index, 'address'], `${host.address} is a loopback address, which the other hosts cannot reach; give the host's address on the cluster network (loopback suits a one-host cluster only)`);
    }
    names.set(host.name, index);
    addresses.set(address, index);
  });
  if (hostsWithRole(spec, 'master').length === 0) fail(['hosts'], 'no host has the master role: a cluster needs at least one');
  if (hostsWithRole(spec, 'etcd').length === 0) fail(['hosts'], 'no host has the etcd role: a cluster needs at least one etcd member');
}

function etcdWarnings(spec: ClusterSpec): SpecWarning[] {
  const members = hostsWithRole(spec, 'etcd').length;
  if (members % 2 === 0) {
    return [
      {
        specPath: 'hosts',
        message: `${members} etcd members tolerate ${members / 2 - 1} failure(s), no more than ${members - 1} would; use an odd number`,
      },
    ];
  }
  if (members === 1) return [{ specPath: 'hosts', message: 'a single etcd member tolerates no failure; use 3 or 5 members for production' }];
  return [];
}

function checkSsh(spec: ClusterSpec, fail: FailAt): void {
  const { ssh } = spec;
  const anySudo = ssh.sudo || spec.hosts.some((host) => host.ssh?.sudo === true);
  if (ssh.sudoPasswordEnv !== undefined && !anySudo) {
    fail(['ssh', 'sudoPasswordEnv'], `is set to ${ssh.sudoPasswordEnv}, but no host runs scripts through sudo; set ssh.sudo: true or remove sudoPasswordEnv`);
  }
  if (ssh.passphraseEnv !== undefined && ssh.passphraseEnv === ssh.sudoPasswordEnv) {
    fail(['ssh', 'sudoPasswordEnv'], `names ${ssh.sudoPasswordEnv}, the same variable as passphraseEnv; the key passphrase and the sudo password need one variable each`);
  }
  spec.hosts.forEach((host, index) => {
    const fingerprints = host.ssh?.fingerprints ?? [];
    const repeated = fingerprints.find((fingerprint, position) => fingerprints.indexOf(fingerprint) !== position);
    if (repeated !== undefined) fail(['hosts', index, 'ssh', 'fingerprints'], `lists ${repeated} twice`);
  });
}

/** Rejects secrets written into the spec itself, which Temporal stores and hosts receive. */
function checkNoSecretsInSpec(spec: ClusterSpec, fail: FailAt): void {
  if (/^[a-z]+:\/\/[^/]*@/i.test(spec.packages.repository.baseurl)) {
    fail(
      ['packages', 'repository', 'baseurl'],
      'contains credentials before "@", which would be stored in Temporal and in every host\'s .repo file; use a mirror the hosts reach without a password in the URL',
    );
  }
}

/** A port a daemon of kboot's listens on, and the spec path that sets it (if the spec can). */
interface PortClaim {
  port: number;
  owner: string;
  path: PathSegment[];
}

function portClaims(spec: ClusterSpec, host: HostSpec, index: number): PortClaim[] {
  const claims: PortClaim[] = [
    { port: host.ssh?.port ?? spec.ssh.port, owner: 'sshd', path: host.ssh?.port !== undefined ? ['hosts', index, 'ssh', 'port'] : ['ssh', 'port'] },
  ];
  if (hasRole(host, 'etcd')) {
    claims.push(
      { port: spec.etcd.clientPort, owner: 'etcd (client)', path: ['etcd', 'clientPort'] },
      { port: spec.etcd.peerPort, owner: 'etcd (peer)', path: ['etcd', 'peerPort'] },
    );
  }
  if (hasRole(host, 'master')) {
    claims.push(
      { port: spec.kubernetes.apiPort, owner: 'kube-apiserver', path: ['kubernetes', 'apiPort'] },
      { port: 10251, owner: 'kube-scheduler', path: [] },
      { port: 10252, owner: 'kube-controller-manager', path: [] },
    );
  }
  if (hasRole(host, 'node')) {
    claims.push({ port: 10250, owner: 'kubelet', path: [] }, { port: 10248, owner: 'kubelet (healthz)', path: [] });
  }
  return claims;
}

function checkPorts(spec: ClusterSpec, fail: FailAt): void {
  spec.hosts.forEach((host, index) => {
    const taken = new Map<number, PortClaim>();
    for (const claim of portClaims(spec, host, index)) {
      const earlier = taken.get(claim.port);
      if (earlier !== undefined) {
        // Blame the setting the operator chose; fixed ports of the daemons have no spec path.
        const path = claim.path.length > 0 ? claim.path : earlier.path;
        fail(path, `port ${claim.port} is used twice on ${host.name}: by ${earlier.owner} and by ${claim.owner}; give them different ports`);
      }
      taken.set(claim.port, claim);
    }
  });
}

function checkNetworks(spec: ClusterSpec, fail: FailAt): void {
  const { network, subnetLen } = spec.flannel;
  const services = spec.kubernetes.serviceClusterIpRange;
  const networkBits = Number(network.split('/')[1]);
  if (subnetLen <= networkBits) fail(['flannel', 'subnetLen'], `${subnetLen} must be longer than the flannel network's prefix /${networkBits}`);

  const nodes = hostsWithRole(spec, 'node').length;
  const subnets = 2 ** (subnetLen - networkBits);
  if (subnets < nodes) {
    fail(['flannel', 'subnetLen'], `/${subnetLen} leases in ${network} give ${subnets} subnets for ${nodes} nodes; use a shorter subnetLen or a larger network`);
  }
  if (overlaps(network, services)) {
    fail(['flannel', 'network'], `${network} overlaps kubernetes.serviceClusterIpRange ${services}`);
  }
  spec.hosts.forEach((host, index) => {
    if (isIpv4(host.address) && inRange(host.address, network)) {
      fail(['flannel', 'network'], `${network} contains hosts[${index}] ${host.name}'s address ${host.address}: pods would shadow the host network`);
    }
    if (isIpv4(host.address) && inRange(host.address, services)) {
      fail(['kubernetes', 'serviceClusterIpRange'], `${services} contains hosts[${index}] ${host.name}'s address ${host.address}: service addresses would shadow the host`);
    }
  });
}

function checkDocker(spec: ClusterSpec, fail: FailAt): void {
  const { storageDriver, storageOptions, dataRoot } = spec.docker;
  if (runsLoopLvm(spec) && !spec.docker.allowLoopLvm) {
    fail(
      ['docker', 'storageOptions'],
      'devicemapper without dm.thinpooldev runs loop-lvm, which docker documents as unfit for production; set dm.thinpooldev to an LVM thin pool, or docker.allowLoopLvm: true for a throw-away lab',
    );
  }
  storageOptions.forEach((option, index) => {
    if (option.startsWith('dm.') && storageDriver !== 'devicemapper') {
      fail(['docker', 'storageOptions', index], `${option} is a devicemapper option, but docker.storageDriver is ${storageDriver}; remove it or use devicemapper`);
    }
  });

  const etcdDataDir = spec.etcd.dataDir;
  const nested = (outer: string, inner: string): boolean => inner === outer || inner.startsWith(`${outer.replace(/\/$/, '')}/`);
  const shared = spec.hosts.find((host) => hasRole(host, 'etcd') && hasRole(host, 'node'));
  if (shared !== undefined && (nested(dataRoot, etcdDataDir) || nested(etcdDataDir, dataRoot))) {
    fail(['docker', 'dataRoot'], `${dataRoot} and etcd.dataDir ${etcdDataDir} overlap on ${shared.name}, which runs both; give each its own directory`);
  }
}

function runsLoopLvm(spec: ClusterSpec): boolean {
  return spec.docker.storageDriver === 'devicemapper' && !spec.docker.storageOptions.some((option) => option.startsWith('dm.thinpooldev='));
}

function dockerWarnings(spec: ClusterSpec): SpecWarning[] {
  if (!runsLoopLvm(spec)) return [];
  return [{ specPath: 'docker.allowLoopLvm', message: 'docker runs devicemapper loop-lvm: slow and limited to 100 GB, fit only for a throw-away lab' }];
}

function checkKubernetes(spec: ClusterSpec, fail: FailAt): void {
  const masters = hostsWithRole(spec, 'master').length;
  // Every API server must verify the tokens that any controller manager signs.
  if (spec.kubernetes.admissionControl.includes('ServiceAccount') && masters > 1 && spec.kubernetes.serviceAccountKeyFile === undefined) {
    fail(
      ['kubernetes', 'serviceAccountKeyFile'],
      `missing: ServiceAccount admission with ${masters} masters needs one signing key shared by all of them; put the same private key on every master and set its path here`,
    );
  }
}

/** Runs every check; throws through `fail` at the first error and returns the warnings. */
export function checkMeaning(spec: ClusterSpec, fail: FailAt): SpecWarning[] {
  checkHosts(spec, fail);
  checkSsh(spec, fail);
  checkNoSecretsInSpec(spec, fail);
  checkPorts(spec, fail);
  checkNetworks(spec, fail);
  checkDocker(spec, fail);
  checkKubernetes(spec, fail);
  return [...etcdWarnings(spec), ...dockerWarnings(spec)];
}
