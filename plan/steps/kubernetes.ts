/**
 * Kubernetes configuration files, as the CentOS kubernetes packages read them: the shared
 * /etc/kubernetes/config, then one file per daemon.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import { apiServerUrl, etcdClientUrls } from '../topology.js';
import type { ManagedFile } from '../types.js';
import { environmentFile } from './common.js';

export const KUBE_CONFIG = '/etc/kubernetes/config';
export const KUBE_APISERVER = '/etc/kubernetes/apiserver';
export const KUBE_CONTROLLER_MANAGER = '/etc/kubernetes/controller-manager';
export const KUBE_SCHEDULER = '/etc/kubernetes/scheduler';
export const KUBE_KUBELET = '/etc/kubernetes/kubelet';
export const KUBE_PROXY = '/etc/kubernetes/proxy';

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
    ['KUBE_API_ARGS', ''],
  ]);
}

export function controllerManagerFile(): ManagedFile {
  return environmentFile(KUBE_CONTROLLER_MANAGER, [['KUBE_CONTROLLER_MANAGER_ARGS', '']]);
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
