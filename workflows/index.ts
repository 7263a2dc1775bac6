/** Workflow entry points registered by the worker. */
export { rolloutWorkflow } from './rollout.js';
export { hostRunWorkflow } from './host-run.js';
export { driftCheckWorkflow } from './drift-check.js';
