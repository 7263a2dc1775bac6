/** Node: kubelet and kube-proxy, started once docker runs and the control plane answers. */
import type { ClusterSpec, HostSpec } from '../spec.js';
import type { StepRendering } from '../types.js';
import { healthz, unitActive } from './common.js';
import { KUBE_CONFIG, KUBE_KUBELET, KUBE_PROXY, kubeConfigFile, kubeletFile, proxyFile } from './kubernetes.js';

export function renderNode(spec: ClusterSpec, host: HostSpec): StepRendering {
  return {
    step: 'node',
    host: host.name,
    title: 'Configure and start kubelet and kube-proxy',
    phase: 'node',
    files: [kubeConfigFile(spec), kubeletFile(spec, host), proxyFile()],
    blocks: [],
    ensures: [],
    units: [
      { unit: 'kubelet', readsFiles: [KUBE_CONFIG, KUBE_KUBELET] },
      { unit: 'kube-proxy', readsFiles: [KUBE_CONFIG, KUBE_PROXY] },
    ],
    verify: [unitActive('kube-proxy'), healthz('kubelet answers /healthz', 'http://127.0.0.1:10248/healthz')],
  };
}
