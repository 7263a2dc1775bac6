import type { ConnectionTarget } from './endpoint.js';
import { describeTarget } from './endpoint.js';
import type { RemoteResult } from './result.js';

/**
 * Base of every error from the SSH layer. `nonRetryable` is true when a retry cannot help until an
 * operator changes something. Messages start with the failed action and name the host, and never
 * contain key material, a key path or a passphrase.
 */
export abstract class SshError extends Error {
  abstract readonly nonRetryable: boolean;
  readonly host: string;
  readonly address: string;
  readonly port: number;

  protected constructor(target: ConnectionTarget, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.host = target.host;
    this.address = target.address;
    this.port = target.port;
  }
}

/** Cause of a failed connection. */
export type ConnectFailureReason =
  | 'refused'
  | 'timed-out'
  | 'unreachable'
  | 'auth-failed'
  | 'closed'
  | 'protocol'
  | 'config';

/**
 * Thrown when the connection to a host (or to its bastion) cannot be made or authenticated.
 * Retryable, except for authentication failures and invalid local configuration (key file,
 * passphrase, fingerprints), which need an operator.
 */
export class SshConnectError extends SshError {
  readonly reason: ConnectFailureReason;
  readonly nonRetryable: boolean;

  constructor(target: ConnectionTarget, reason: ConnectFailureReason, detail: string, cause?: unknown) {
    super(target, `connect to ${describeTarget(target)}: ${detail}`, { cause });
    this.reason = reason;
    this.nonRetryable = reason === 'auth-failed' || reason === 'config';
  }
}

/** Thrown when neither known_hosts nor the pinned fingerprints contain any key for the host. */
export class HostKeyUnknownError extends SshError {
  readonly nonRetryable = true;
  readonly presentedFingerprint: string;

  constructor(target: ConnectionTarget, presentedFingerprint: string, lookedUp: string) {
    super(
      target,
      `connect to ${describeTarget(target)}: host key unknown: ${lookedUp}; ` +
        `the host presented ${presentedFingerprint}; check that fingerprint on the host ` +
        `(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and pin it with kboot trust <spec>`,
    );
    this.presentedFingerprint = presentedFingerprint;
  }
}

/**
 * Thrown when the host presents a key other than the pinned one: the host was re-installed or the
 * connection is intercepted. Never retried.
 */
export class HostKeyMismatchError extends SshError {
  readonly nonRetryable = true;
  readonly expectedFingerprints: string[];
  readonly presentedFingerprint: string;

  constructor(
    target: ConnectionTarget,
    expectedFingerprints: string[],
    presentedFingerprint: string,
    repinAdvice: string,
  ) {
    super(
      target,
      `connect to ${describeTarget(target)}: host key mismatch: expected ` +
        `${expectedFingerprints.join(' or ')}, the host presented ${presentedFingerprint}; ` +
        `this is either a re-installed host or an attack; if the host was re-installed, ${repinAdvice}`,
    );
    this.expectedFingerprints = expectedFingerprints;
    this.presentedFingerprint = presentedFingerprint;
  }
}

/** Thrown when a host refuses to open a session channel, e.g. at its MaxSessions limit. */
export class SshChannelError extends SshError {
  readonly nonRetryable = false;

  constructor(target: ConnectionTarget, detail: string, cause?: unknown) {
    super(target, `open session on ${describeTarget(target)}: ${detail}`, { cause });
  }
}

/**
 * Thrown when the connection drops while a script runs. The script may or may not have finished
 * on the host. `partial` contains the output received so far.
 */
export class SshConnectionLostError extends SshError {
  readonly nonRetryable = false;
  readonly partial: RemoteResult;

  constructor(target: ConnectionTarget, detail: string, partial: RemoteResult, cause?: unknown) {
    super(target, `run script on ${describeTarget(target)}: connection lost: ${detail}`, { cause });
    this.partial = partial;
  }
}

/**
 * Thrown when a script runs longer than its timeout. The channel is closed and the remote process
 * group is killed. `partial` contains the output received until then.
 */
export class CommandTimeoutError extends SshError {
  readonly nonRetryable = false;
  readonly timeoutMs: number;
  readonly partial: RemoteResult;

  constructor(target: ConnectionTarget, timeoutMs: number, partial: RemoteResult) {
    super(
      target,
      `run script on ${describeTarget(target)}: timed out after ${formatSeconds(timeoutMs)}; ` +
        `the remote processes were killed; raise the step's timeout if the host is just slow`,
    );
    this.timeoutMs = timeoutMs;
    this.partial = partial;
  }
}

/**
 * Thrown when the caller's AbortSignal fires. Its `name` is `AbortError`, as for aborted fetches and
 * timers in Node, so generic cancellation handling recognises it.
 */
export class CommandAbortedError extends SshError {
  // Workers abort running activities when they shut down, and another worker must retry them.
  readonly nonRetryable = false;
  readonly code = 'ABORT_ERR';

  constructor(target: ConnectionTarget, stage: string, cause?: unknown) {
    super(target, `run script on ${describeTarget(target)}: aborted ${stage}`, { cause });
    this.name = 'AbortError';
  }
}

/** Thrown when `sudo -n` on the host reports that the user needs a password. */
export class SudoPasswordRequiredError extends SshError {
  readonly nonRetryable = true;
  readonly result: RemoteResult;

  constructor(target: ConnectionTarget & { user: string }, result: RemoteResult) {
    super(
      target,
      `run script on ${describeTarget(target)}: sudo needs a password for user ${target.user}; ` +
        `allow passwordless sudo for that user (NOPASSWD in sudoers), connect as root, ` +
        `or name a worker environment variable that contains the password in sudoPasswordEnv`,
    );
    this.result = result;
  }
}

/**
 * Thrown when `sudo -S` prompts for the password a second time, because it rejected the one from
 * `sudoPasswordEnv`. The script did not run.
 */
export class SudoPasswordRejectedError extends SshError {
  readonly nonRetryable = true;
  readonly result: RemoteResult;

  constructor(target: ConnectionTarget & { user: string }, passwordEnv: string, result: RemoteResult) {
    super(
      target,
      `run script on ${describeTarget(target)}: sudo rejected the password from ${passwordEnv} for user ${target.user}; ` +
        `check that variable's value on the worker and that the user may run sudo on the host`,
    );
    this.result = result;
  }
}

/**
 * Thrown when `sudo -S` neither prompts for a password nor starts the script in time: a PAM module
 * that hangs, or a prompt other than the one kboot sets. The script did not run.
 */
export class SudoStartTimeoutError extends SshError {
  readonly nonRetryable = false;
  readonly result: RemoteResult;

  constructor(target: ConnectionTarget, timeoutMs: number, result: RemoteResult) {
    super(
      target,
      `run script on ${describeTarget(target)}: sudo did not start the script within ${formatSeconds(timeoutMs)}; ` +
        `check the sudo and PAM setup on the host (sudo -S -v must prompt and accept the password)`,
    );
    this.result = result;
  }
}

/** Thrown when sudoers on the host sets `requiretty` and the endpoint has no tty. */
export class SudoTtyRequiredError extends SshError {
  readonly nonRetryable = true;
  readonly result: RemoteResult;

  constructor(target: ConnectionTarget, result: RemoteResult) {
    super(
      target,
      `run script on ${describeTarget(target)}: sudo requires a tty (requiretty in sudoers); ` +
        `set tty: true for this host, or remove requiretty on it`,
    );
    this.result = result;
  }
}

function formatSeconds(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toFixed(3))} s`;
}
