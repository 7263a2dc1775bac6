/**
 * kboot's activities, bound to one SSH connection pool per worker process so that every step on
 * a host reuses one connection.
 */
import { checkHost } from './check.js';
import type { GateActivityInput, HostCheckInput, KbootActivities, StepActivityInput } from './contract.js';
import { checkGate } from './gates.js';
import type { SshPool } from './ssh/index.js';
import { runStep } from './steps.js';

export function createActivities(pool: SshPool): KbootActivities {
  return {
    runStep: (input: StepActivityInput) => runStep(pool, input),
    checkGate: (input: GateActivityInput) => checkGate(pool, input),
    checkHost: (input: HostCheckInput) => checkHost(pool, input),
  };
}
