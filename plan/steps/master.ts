/**
 * Master: the API server, controller manager and scheduler, started after the etcd quorum, each
 * waited on through its health endpoint.
 *
 * With ServiceAccount admission the API server verifies service account tokens that the
 * controller manager signs, so both need the key pair: kboot creates it on the master (or uses the
 * one the spec names) before either daemon starts. A healthy /healthz does not show a daemon that
 * runs without its flags, so the running processes' arguments are verified too.
 */
import type { ClusterSpec, HostSpec } from '../spec.js';
import { etcdClientUrls } from '../topology.js';
import type { StepRendering } from '../types.js';
import { healthz, unitActive } from './common.js';
import {
  apiserverArgs,
  apiserverFile,
  controllerManagerArgs,
  controllerManagerFile,
  flagsProbe,
  KUBE_APISERVER,
  KUBE_CONFIG,
  KUBE_CONTROLLER_MANAGER,
  KUBE_SCHEDULER,
  kubeConfigFile,
  runsWithFlags,
  schedulerFile,
  serviceAccountKeyEnsure,
  serviceAccountKeys,
} from './kubernetes.js';

export function renderMaster(spec: ClusterSpec, host: HostSpec): StepRendering {
  const keys = serviceAccountKeys(spec);
  const apiserverFlags = [
    `--etcd-servers=${etcdClientUrls(spec)}`,
    `--admission-control=${spec.kubernetes.admissionControl.join(',')}`,
    ...apiserverArgs(spec),
  ];
  const controllerManagerFlags = controllerManagerArgs(spec);
  return {
    step: 'master',
    host: host.name,
    title: 'Configure and start kube-apiserver, kube-controller-manager, kube-scheduler',
    phase: 'master',
    files: [kubeConfigFile(spec), apiserverFile(spec), controllerManagerFile(spec), schedulerFile()],
    blocks: [],
    ensures: keys ? [serviceAccountKeyEnsure(spec, host, keys)] : [],
    units: [
      {
        unit: 'kube-apiserver',
        readsFiles: [KUBE_CONFIG, KUBE_APISERVER, ...(keys ? [keys.publicKey] : [])],
        // A process started before its flags were in place is restarted. A unit that drops them
        // keeps failing the verification below, which names them.
        restartUnless: runsWithFlags('kube-apiserver', apiserverFlags),
      },
      {
        unit: 'kube-controller-manager',
        readsFiles: [KUBE_CONFIG, KUBE_CONTROLLER_MANAGER, ...(keys ? [keys.privateKey] : [])],
        ...(controllerManagerFlags.length > 0 ? { restartUnless: runsWithFlags('kube-controller-manager', controllerManagerFlags) } : {}),
      },
      { unit: 'kube-scheduler', readsFiles: [KUBE_CONFIG, KUBE_SCHEDULER] },
    ],
    verify: [
      unitActive('kube-apiserver'),
      healthz('kube-apiserver answers /healthz', `http://127.0.0.1:${spec.kubernetes.apiPort}/healthz`),
      healthz('kube-controller-manager answers /healthz', 'http://127.0.0.1:10252/healthz'),
      healthz('kube-scheduler answers /healthz', 'http://127.0.0.1:10251/healthz'),
      flagsProbe('kube-apiserver', apiserverFlags),
      ...(controllerManagerFlags.length > 0 ? [flagsProbe('kube-controller-manager', controllerManagerFlags)] : []),
    ],
  };
}
