/**
 * The cluster spec: one YAML file describing the fleet and how to build Kubernetes on it.
 *
 * The schema is strict (unknown keys are errors) and narrows every value that reaches a remote
 * shell to what it can legally be, so that quoting is a second line of defence, not the only one.
 * Types only are imported by the workflow bundle; the zod schema itself runs in the client and the
 * worker.
 */
import { z } from 'zod';

/** A host or cluster name: an RFC 1123 label, the form a Kubernetes node name and hostname take. */
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-"), at most 63 characters');

/** An absolute POSIX path without shell or whitespace characters. */
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._\/+-]*$/, 'must be an absolute path of letters, digits and . _ / + -')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." segments');

/**
 * System folders a data folder must neither be nor lie under: kboot creates data folders, and with
 * docker.allowDataRootWipe may empty them.
 */
const SYSTEM_FOLDERS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/sbin', '/sys', '/usr'];
const SYSTEM_PARENTS = ['/', '/home', '/opt', '/root', '/run', '/srv', '/tmp', '/var', '/var/lib', '/var/log', '/var/run', '/var/lib/kboot'];

/** A folder a service keeps its data in: absolute, and not a system folder. */
const dataFolder = absolutePath.refine((value) => {
  const folder = value.replace(/\/+$/, '') || '/';
  if (SYSTEM_PARENTS.includes(folder)) return false;
  return !SYSTEM_FOLDERS.some((system) => folder === system || folder.startsWith(`${system}/`));
}, `must be a folder of its own, not a system folder such as /, /var/lib or /etc (nor under ${SYSTEM_FOLDERS.join(', ')})`);

/** A path on the operator's machine (key files); relative paths resolve against the spec's folder. */
const localPath = z.string().min(1).regex(/^[^\0\n]+$/, 'must be a single-line path');

/** The name of an environment variable on the worker's machine; the secret it contains stays there. */
const environmentVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits and _, not starting with a digit)');

/** A host key fingerprint as `ssh-keygen -lf` prints it: `SHA256:` and 43 unpadded base64 characters. */
const hostKeyFingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be a SHA256 host key fingerprint as ssh-keygen -lf prints it: SHA256: and 43 base64 characters');

const posixUser = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX user name');



const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

// A name whose last label is all digits is a mistyped address, never a DNS name (RFC 3696).
// 0/8 and 224/3 name no single host: etcd peers and flanneld would advertise them and never
// connect. Loopback is checked with the whole spec, as it suits a one-host cluster.
const hostAddress = z
  .string()
  .refine((value) => IPV4.test(value) || (DNS_NAME.test(value) && !/(^|\.)\d+$/.test(value)), 'must be an IPv4 address or a DNS name')
  .refine((value) => {
    if (!IPV4.test(value)) return true;
    const first = Number(value.split('.')[0]);
    return first !== 0 && first < 224;
  }, 'must be the address of one host, not an unspecified, multicast or reserved one');

const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, 'must be an IPv4 CIDR such as 10.244.0.0/16')
  .refine((value) => IPV4.test(value.split('/')[0]), 'must have a valid IPv4 address before the "/"');

/** A network's CIDR: its address must be the network's first, with no host bits set. */
const networkCidr = cidr.refine((value) => {
  const [address, prefix] = value.split('/');
  const number = address.split('.').reduce((total, octet) => total * 256 + Number(octet), 0);
  const hostBits = 2 ** (32 - Number(prefix));
  return number % hostBits === 0;
}, 'must be a network address with no host bits set, such as 10.244.0.0/16 rather than 10.244.1.7/16');

const port = z.number().int().min(1).max(65535);

/** A duration such as "90s", "5m" or "1h". */
const duration = z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration such as 30s, 5m or 1h');

/** Admission plugin names and etcd key prefixes are CamelCase words and slash-separated words. */
const admissionPlugin = z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be an admission plugin name such as NamespaceLifecycle');
const etcdPrefix = z.string().regex(/^(\/[A-Za-z0-9._-]+)+$/, 'must be an etcd key prefix such as /kboot.io/network');

export const roleSchema = z.enum(['etcd', 'master', 'node']);

/** SSH settings that one host sets apart from the `ssh` section. */
export const hostSshSchema = z.strictObject({
  /** Login user on this host, such as root on a host without sudo. */
  user: posixUser.optional(),
  port: port.optional(),
  /** Whether scripts on this host run through sudo. */
  sudo: z.boolean().optional(),
  /** Pseudo-terminal for this host: true always, false never, unset when sudo requires one (requiretty). */
  tty: z.boolean().optional(),
  /** Host key fingerprints pinned for this host, trusted besides its known_hosts entries. */
  fingerprints: z.array(hostKeyFingerprint).min(1, 'must list at least one fingerprint, or leave fingerprints out').optional(),
});

export const hostSchema = z.strictObject({
  /** The host's name: its hostname, etcd member name and Kubernetes node name. */
  name: dnsLabel,
  /** The address kboot connects to and the cluster uses between hosts. */
  address: hostAddress,
  /** What the host runs: etcd member, master (API server, scheduler, controller manager), node (kubelet, proxy, flannel, docker). */
  roles: z.array(roleSchema).min(1, 'must list at least one role'),
  /** SSH settings for this host only; the `ssh` section gives the rest. */
  ssh: hostSshSchema.optional(),
});

/** A bastion (jump host): connections to every host are tunnelled through it. */
export const jumpSchema = z.strictObject({
  /** The bastion's name in messages and in `kboot trust` output. */
  name: dnsLabel.default('bastion'),
  address: hostAddress,
  port: port.default(22),
  /** Login user on the bastion; default `ssh.user`. */
  user: posixUser.optional(),
  /** Private key for the bastion on the worker's machine; default `ssh.privateKeyFile`. */
  privateKeyFile: localPath.optional(),
  /** Worker environment variable with that key's passphrase; default `ssh.passphraseEnv` when the key is the same. */
  passphraseEnv: environmentVariable.optional(),
  /** The bastion's host key fingerprints, trusted besides its known_hosts entries. */
  fingerprints: z.array(hostKeyFingerprint).min(1, 'must list at least one fingerprint, or leave fingerprints out').optional(),
});

export const sshSchema = z.strictObject({
  /** Login user on every host. */
  user: posixUser,
  /** SSH port on every host. */
  port: port.default(22),
  /** Private key on the worker's machine; never sent to Temporal. */
  privateKeyFile: localPath,
  /** Worker environment variable that contains the private key's passphrase; only its name is in the spec. */
  passphraseEnv: environmentVariable.optional(),
  /** OpenSSH known_hosts file that pins every host's key; `kboot trust` records keys into it. */
  knownHostsFile: localPath,
  /** Run remote scripts as root through sudo: `sudo -n`, or `sudo -S` with sudoPasswordEnv. */
  sudo: z.boolean().default(false),
  /** Worker environment variable that contains the login user's sudo password; only its name is in the spec. */
  sudoPasswordEnv: environmentVariable.optional(),
  /** Pseudo-terminal on every host: true always, false never, unset when sudo requires one (requiretty). */
  tty: z.boolean().optional(),
  /** How long to wait for a host to accept the TCP connection and the SSH handshake. */
  connectTimeout: duration.default('10s'),
  /** Bastion that every connection goes through. */
  jump: jumpSchema.optional(),
});

export const repositorySchema = z.strictObject({
  /** Repository id in /etc/yum.repos.d/<id>.repo. */
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a yum repository id (letters, digits, . _ -)'),
  /** Human-readable name shown by yum. */
  name: z.string().regex(/^[^\n\r$`\\]+$/, 'must be one line without $, ` or \\'),
  /** Where the packages are: http(s):// or file:// (air-gapped mirrors). */
  baseurl: z.string().regex(/^(https?|file):\/\/[A-Za-z0-9._~:\/?#@!&'()*+,;=%-]+$/, 'must be an http://, https:// or file:// URL'),
  /** Whether yum checks package signatures. */
  gpgcheck: z.boolean().default(true),
});

export const etcdSchema = z.strictObject({
  clientPort: port.default(2379),
  peerPort: port.default(2380),
  /** Member data directory; a member with data here is never bootstrapped again. */
  dataDir: dataFolder.default('/var/lib/etcd/default.etcd'),
  /** Token that keeps two clusters bootstrapped at once from joining each other. */
  initialClusterToken: dnsLabel.default('kboot-etcd'),
  /**
   * Let the rollout go on when a quorum of members is healthy but not every member: the etcd
   * quorum gate then opens as degraded, names the unhealthy members, and the rollout ends as
   * degraded instead of succeeded. Off: anything that needs etcd waits until every member is
   * healthy or the operator decides.
   */
  allowDegraded: z.boolean().default(false),
});

export const flannelSchema = z.strictObject({
  /** The pod network flannel hands subnets out of. */
  network: networkCidr,
  /** Prefix length of each node's subnet (its flannel lease). */
  subnetLen: z.number().int().min(8).max(30).default(24),
  backend: z.enum(['vxlan', 'host-gw', 'udp']).default('vxlan'),
  /** Where flannel's network config lives in etcd (`<prefix>/config`). */
  etcdPrefix: etcdPrefix.default('/kboot.io/network'),
  /** The etcd API flanneld reads the network config through: v2 for flannel < 0.10, v3 after. */
  etcdApi: z.enum(['v2', 'v3']).default('v3'),
});

export const dockerSchema = z.strictObject({
  /** Docker's data root (`--graph`). */
  dataRoot: dataFolder.default('/var/lib/docker'),
  storageDriver: z.enum(['overlay2', 'overlay', 'devicemapper', 'btrfs', 'vfs']).default('overlay2'),
  /** `--storage-opt` values, such as dm.thinpooldev=/dev/mapper/docker-thinpool. */
  storageOptions: z.array(z.string().regex(/^[a-z][a-z0-9_.]*=[A-Za-z0-9._\/:-]+$/, 'must be key=value such as dm.thinpooldev=/dev/mapper/docker-thinpool')).default([]),
  /**
   * Accept devicemapper without dm.thinpooldev (loop-lvm), which docker documents as unfit for
   * production: only for a throw-away lab.
   */
  allowLoopLvm: z.boolean().default(false),
  /**
   * Let kboot wipe the data root of a docker that already runs with other storage (another driver,
   * loop-lvm, another thin pool or data root). Its images and containers are lost. Off: such a host
   * fails the docker step and nothing on it changes.
   */
  allowDataRootWipe: z.boolean().default(false),
});

export const kubernetesSchema = z.strictObject({
  /** The API server's insecure port that nodes and kboot use. */
  apiPort: port.default(8080),
  /** Virtual IP range for services; must not overlap the flannel network. */
  serviceClusterIpRange: networkCidr.default('10.254.0.0/16'),
  /** Admission plugins, in order. */
  admissionControl: z.array(admissionPlugin).default(['NamespaceLifecycle', 'NamespaceExists', 'LimitRanger', 'ResourceQuota']),
  /**
   * Private key, present on every master, that signs service account tokens. Unset: kboot creates
   * a key pair on the master when admissionControl lists ServiceAccount, which works with one
   * master only, because every API server must verify the tokens any controller manager signs.
   */
  serviceAccountKeyFile: absolutePath.optional(),
});

export const rolloutSchema = z.strictObject({
  /** How many hosts run steps at the same time. */
  parallelism: z.number().int().min(1).max(1000).default(10),
  /**
   * Failed hosts the rollout tolerates before it aborts, as a count (`2`) or a share of the fleet
   * (`"10%"`), like Ansible's max_fail_percentage. Within the budget, failed hosts park and wait.
   */
  maxFailedHosts: z.union([z.number().int().min(0), z.string().regex(/^(100|[1-9]?\d)%$/, 'must be a count of hosts or a percentage from 0% to 100%, such as 10%')]).default('100%'),
  /**
   * Hosts per rolling batch, as a count (`5`) or a share of the fleet (`"20%"`, rounded down, at
   * least 1), like Ansible's serial. Batches follow the order of `hosts`. A host of batch N+1
   * starts only once every host of batch N is done, failed, skipped or parked at a gate that
   * needs hosts of later batches. Gates are not batched.
   */
  batchSize: z.union([z.number().int().min(1), z.string().regex(/^(100|[1-9]\d?)%$/, 'must be a count of at least 1 or a percentage from 1% to 100%')]).default('100%'),
  /** How long a parked rollout waits for the operator before it ends as failed. */
  operatorTimeout: duration.default('24h'),
});

export const clusterSpecSchema = z.strictObject({
  /** Cluster name: the rollout's workflow id is `kboot-<name>`. */
  name: dnsLabel,
  ssh: sshSchema,
  hosts: z.array(hostSchema).min(1, 'must list at least one host'),
  packages: z.strictObject({
    repository: repositorySchema,
    /**
     * How long one `yum install` may run before it is killed and the step retried: a held yum lock
     * or a dead mirror otherwise hangs the host's rollout.
     */
    installTimeout: duration.default('10m'),
  }),
  etcd: etcdSchema.prefault({}),
  flannel: flannelSchema,
  docker: dockerSchema.prefault({}),
  kubernetes: kubernetesSchema.prefault({}),
  rollout: rolloutSchema.prefault({}),
});

export type Role = z.infer<typeof roleSchema>;
export type HostSpec = z.infer<typeof hostSchema>;
export type HostSshSpec = z.infer<typeof hostSshSchema>;
export type ClusterSpec = z.infer<typeof clusterSpecSchema>;
