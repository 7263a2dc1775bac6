/**
 * kboot's SSH layer: every remote action runs through SshPool.run, as a bash script sent on stdin
 * over a pooled, host-key-checked ssh2 connection.
 */
export type { SshEndpoint, ConnectionTarget } from './endpoint.js';
export type { RemoteResult } from './result.js';
export { DEFAULT_MAX_OUTPUT_BYTES } from './result.js';
export { SshPool, ACTIVITY_INTERVAL_MS } from './pool.js';
export type { RunOptions, SshLogger, SshPoolOptions } from './pool.js';
export {
  CommandAbortedError,
  CommandTimeoutError,
  HostKeyMismatchError,
  HostKeyUnknownError,
  SshChannelError,
  SshConnectError,
  SshConnectionLostError,
  SshError,
  SudoPasswordRejectedError,
  SudoPasswordRequiredError,
  SudoStartTimeoutError,
  SudoTtyRequiredError,
} from './errors.js';
export type { ConnectFailureReason } from './errors.js';
export { fingerprintOf, findKnownHostKeys, knownHostsNameFor } from './hostKeys.js';
export { INCOMPLETE_SCRIPT_EXIT_CODE, SUDO_PROMPT, buildRemoteCommand } from './command.js';
