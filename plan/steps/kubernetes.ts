/**
 * Kubernetes configuration files, as the CentOS kubernetes packages read them: the shared
 * /etc/kubernetes/config, then one file per daemon.
 */
import { quote } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import { apiServerUrl, etcdClientUrls } from '../topology.js';
import type { Ensure, ManagedFile, Probe } from '../types.js';
import { environmentFile } from './common.js';

export const KUBE_CONFIG = '/etc/kubernetes/config';
export const KUBE_APISERVER = '/etc/kubernetes/apiserver';
export const KUBE_CONTROLLER_MANAGER = '/etc/kubernetes/controller-manager';
export const KUBE_SCHEDULER = '/etc/kubernetes/scheduler';
export const KUBE_KUBELET = '/etc/kubernetes/kubelet';
export const KUBE_PROXY = '/etc/kubernetes/proxy';
/** The service account signing key pair kboot creates on a master when the spec names none. */
export const SERVICE_ACCOUNT_KEY = '/etc/kubernetes/serviceaccount.key';
export const SERVICE_ACCOUNT_PUBLIC_KEY = '/etc/kubernetes/serviceaccount.pub';

/**
 * The key pair that signs (controller manager) and verifies (API server) service account tokens,
 * or undefined when nothing needs one. `created` is true when kboot creates the pair itself.
 */
export interface ServiceAccountKeys {
  privateKey: string;
  publicKey: string;
  created: boolean;
}

export function serviceAccountKeys(spec: ClusterSpec): ServiceAccountKeys | undefined {
  const configured = spec.kubernetes.serviceAccountKeyFile;
  // --service-account-key-file takes a private key as well and reads its public half.
  if (configured) return { privateKey: configured, publicKey: configured, created: false };
  if (!spec.kubernetes.admissionControl.includes('ServiceAccount')) return undefined;
  return { privateKey: SERVICE_ACCOUNT_KEY, publicKey: SERVICE_ACCOUNT_PUBLIC_KEY, created: true };
}

/** Read by every Kubernetes daemon, on masters and nodes alike, so both steps render it the same. */
export function kubeConfigFile(spec: ClusterSpec): ManagedFile {
  return environmentFile(KUBE_CONFIG, [
    ['KUBE_LOGTOSTDERR', '--logtostderr=true'],
    ['KUBE_LOG_LEVEL', '--v=0'],
    ['KUBE_ALLOW_PRIV', '--allow-privileged=false'],
    ['KUBE_MASTER', `--master=${apiServerUrl(spec)}`],
  ]);
}

export function apiserverFile(spec: ClusterSpec): ManagedFile {
  const { apiPort, serviceClusterIpRange, admissionControl } = spec.kubernetes;
  return environmentFile(KUBE_APISERVER, [
    ['KUBE_API_ADDRESS', '--insecure-bind-address=0.0.0.0'],
    ['KUBE_API_PORT', `--port=${apiPort}`],
    ['KUBELET_PORT', '--kubelet-port=10250'],
    ['KUBE_ETCD_SERVERS', `--etcd-servers=${etcdClientUrls(spec)}`],
    ['KUBE_SERVICE_ADDRESSES', `--service-cluster-ip-range=${serviceClusterIpRange}`],
    ['KUBE_ADMISSION_CONTROL', `--admission-control=${admissionControl.join(',')}`],
    ['KUBE_API_ARGS', apiserverArgs(spec).join(' ')],
  ]);
}

/** Flags in KUBE_API_ARGS, one word each. */
export function apiserverArgs(spec: ClusterSpec): string[] {
  const keys = serviceAccountKeys(spec);
  return keys ? [`--service-account-key-file=${keys.publicKey}`] : [];
}

export function controllerManagerFile(spec: ClusterSpec): ManagedFile {
  return environmentFile(KUBE_CONTROLLER_MANAGER, [['KUBE_CONTROLLER_MANAGER_ARGS', controllerManagerArgs(spec).join(' ')]]);
}

/** Flags in KUBE_CONTROLLER_MANAGER_ARGS, one word each. */
export function controllerManagerArgs(spec: ClusterSpec): string[] {
  const keys = serviceAccountKeys(spec);
  return keys ? [`--service-account-private-key-file=${keys.privateKey}`] : [];
}

/**
 * Puts the service account key pair in place on a master. A key kboot created is kept across
 * runs, because a new key invalidates every token signed with the old one. Only a missing or
 * unreadable key is created again, and a key the spec names must already be there.
 */
export function serviceAccountKeyEnsure(spec: ClusterSpec, host: HostSpec, keys: ServiceAccountKeys): Ensure {
  const privateKey = quote(keys.privateKey);
  if (!keys.created) {
    return {
      description: `service account key ${keys.privateKey} is present`,
      check: `grep -q 'PRIVATE KEY' ${privateKey}`,
      apply: `kboot_fail ${quote(
        `kubernetes.serviceAccountKeyFile ${keys.privateKey} is missing on ${host.name} or holds no PEM private key: copy the same key to every master, readable by the kube group`,
      )}`,
    };
  }
  const publicKey = quote(keys.publicKey);
  // The controller manager runs as kube and reads the private key, so the kube group may read it.
  return {
    description: `service account key pair ${keys.privateKey} and ${keys.publicKey}`,
    check: `openssl rsa -in ${privateKey} -check -noout >/dev/null 2>&1 && openssl rsa -in ${privateKey} -pubout 2>/dev/null | cmp -s - ${publicKey} && [ "$(stat -c %G:%a ${privateKey})" = kube:640 ]`,
    apply: `{
  openssl rsa -in ${privateKey} -check -noout >/dev/null 2>&1 || {
    ( umask 077 && openssl genrsa -out ${quote(`${keys.privateKey}.kboot-new`)} 2048 2>/dev/null ) &&
      mv -f ${quote(`${keys.privateKey}.kboot-new`)} ${privateKey} || kboot_fail "create the service account key ${keys.privateKey} with openssl genrsa"
  }
  chgrp kube ${privateKey} && chmod 0640 ${privateKey} || kboot_fail "give the kube group read access to ${keys.privateKey}"
  openssl rsa -in ${privateKey} -pubout -out ${quote(`${keys.publicKey}.kboot-new`)} 2>/dev/null && chmod 0644 ${quote(`${keys.publicKey}.kboot-new`)} &&
    mv -f ${quote(`${keys.publicKey}.kboot-new`)} ${publicKey} || kboot_fail "write the public key ${keys.publicKey}"
  # Recorded as changed so that the daemons reading the pair restart with it.
  changed+=(${privateKey} ${publicKey})
  echo "kboot: changed ${keys.privateKey}"
}`,
  };
}

/**
 * Returns a check, for a probe or a restart condition, that the unit's running process got every
 * flag in \`flags\` as one argument, and that names the missing ones. A unit whose ExecStart drops
 * the variable that carries them (a site drop-in, an old unit file) starts fine and misbehaves
 * later, such as a controller manager that signs no service account tokens.
 */
export function runsWithFlags(unit: string, flags: string[]): string {
  return `(
  pid=$(systemctl show -p MainPID --value ${quote(unit)} 2>/dev/null)
  if [ -z "$pid" ] || [ "$pid" = 0 ]; then echo ${quote(`${unit} is not running`)} >&2; exit 1; fi
  missing=()
  for flag in ${flags.map(quote).join(' ')}; do
    tr '\\0' '\\n' < "/proc/$pid/cmdline" | grep -qxF -- "$flag" || missing+=("$flag")
  done
  if [ \${#missing[@]} -gt 0 ]; then
    echo "${unit} (pid $pid) runs without \${missing[*]}: its ExecStart does not pass them, so check systemctl cat ${unit} for a drop-in that replaces it" >&2
    exit 1
  fi
)`;
}

export function flagsProbe(unit: string, flags: string[]): Probe {
  return { description: `${unit} runs with ${flags.join(' ')}`, script: runsWithFlags(unit, flags), timeoutSeconds: 5, intervalSeconds: 1 };
}

export function schedulerFile(): ManagedFile {
  return environmentFile(KUBE_SCHEDULER, [['KUBE_SCHEDULER_ARGS', '']]);
}

export function kubeletFile(spec: ClusterSpec, host: HostSpec): ManagedFile {
  return environmentFile(KUBE_KUBELET, [
    ['KUBELET_ADDRESS', '--address=0.0.0.0'],
    ['KUBELET_PORT', '--port=10250'],
    ['KUBELET_HOSTNAME', `--hostname-override=${host.name}`],
    ['KUBELET_API_SERVER', `--api-servers=${apiServerUrl(spec)}`],
    ['KUBELET_ARGS', ''],
  ]);
}

export function proxyFile(): ManagedFile {
  return environmentFile(KUBE_PROXY, [['KUBE_PROXY_ARGS', '']]);
}
