/** The pure planning module, shared by the rollout workflow and the client. */
export * from './types.js';
export * from './graph.js';
export * from './topology.js';
export * from './shell.js';
export * from './script.js';
export type { ClusterSpec, HostSpec, Role } from './spec.js';
