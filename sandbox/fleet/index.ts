/**
 * The sandbox fleet: local hosts (network, PID, mount and UTS namespaces running real OpenSSH) that
 * kboot rolls clusters out on in the demo and the tests.
 */
export { up, fleetHealthy, sshClientOptions, writeKnownHosts, FleetUpError, type UpOptions, type UpResult } from './up.js';
export { down, FleetDownError, type DownOptions, type DownResult } from './down.js';
export { status, type FleetStatus, type HostStatus } from './status.js';
export { hostExec, hostExecChecked, HostNotRunningError, type HostExecOptions } from './exec.js';
export {
  cutLink,
  restoreLink,
  slowLink,
  throttleLink,
  stopSshd,
  startSshd,
  fillDisk,
  freeDisk,
  changeHostKey,
  FaultNotSupportedError,
  FILL_FILE_NAME,
  type FaultOptions,
  type ChangeHostKeyOptions,
} from './faults.js';
export { readEvents, parseEvents, EVENTS_LOG, type HostEvents, type SandboxEvent } from './events.js';
export { defaultLayout, readFleetRecord, type FleetRecord, type HostLayout, type Role } from './layout.js';
export { renderClusterSpec, type ClusterSpecInput } from './spec.js';
export {
  resolveSandboxRoot,
  standinBinDir,
  netnsName,
  bridgeName,
  vethName,
  hostAddress,
  InvalidFleetArgumentError,
  DEFAULT_SANDBOX_ROOT,
} from './names.js';
export { CommandFailedError, type RunResult } from './run.js';
