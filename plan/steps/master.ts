/**
 * Master: the API server, controller manager and scheduler, started after the etcd quorum, each
 * waited on through its health endpoint.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import type { StepRendering } from '../types.js';
import { healthz, unitActive } from './common.js';
import {
  apiserverFile,
  controllerManagerFile,
  KUBE_APISERVER,
  KUBE_CONFIG,
  KUBE_CONTROLLER_MANAGER,
  KUBE_SCHEDULER,
  kubeConfigFile,
  schedulerFile,
} from './kubernetes.js';

export function renderMaster(spec: ClusterSpec, host: HostSpec): StepRendering {
  return {
    step: 'master',
    host: host.name,
    title: 'Configure and start kube-apiserver, kube-controller-manager, kube-scheduler',
    phase: 'master',
    files: [kubeConfigFile(spec), apiserverFile(spec), controllerManagerFile(), schedulerFile()],
    blocks: [],
    ensures: [],
    units: [
      { unit: 'kube-apiserver', readsFiles: [KUBE_CONFIG, KUBE_APISERVER] },
      { unit: 'kube-controller-manager', readsFiles: [KUBE_CONFIG, KUBE_CONTROLLER_MANAGER] },
      { unit: 'kube-scheduler', readsFiles: [KUBE_CONFIG, KUBE_SCHEDULER] },
    ],
    verify: [
      unitActive('kube-apiserver'),
      healthz('kube-apiserver answers /healthz', `http://127.0.0.1:${spec.kubernetes.apiPort}/healthz`),
      healthz('kube-controller-manager answers /healthz', 'http://127.0.0.1:10252/healthz'),
      healthz('kube-scheduler answers /healthz', 'http://127.0.0.1:10251/healthz'),
    ],
  };
}
