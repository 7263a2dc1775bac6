import type { ClientChannel } from 'ssh2';

import { buildRemoteCommand, detectSudoRefusal } from './command.js';
import { openClient } from './connect.js';
import type { KeepaliveSettings } from './connect.js';
import { ConnectionClosedBeforeStart, PooledConnection } from './connection.js';
import type { ConnectionTarget, SshEndpoint } from './endpoint.js';
import { describeTarget, validateEndpoint } from './endpoint.js';
import { CommandAbortedError, SshConnectError, SudoPasswordRequiredError, SudoTtyRequiredError } from './errors.js';
import { runOnChannel } from './execute.js';
import type { RemoteResult } from './result.js';
import { DEFAULT_MAX_OUTPUT_BYTES, MIN_MAX_OUTPUT_BYTES } from './result.js';

/** Structured logger, compatible with Temporal's activity and worker loggers. */
export interface SshLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

export interface SshPoolOptions {
  /** Interval of SSH keepalive requests on idle connections. Default 15 000 ms. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives after which a connection counts as dead. Default 3. */
  keepaliveCountMax?: number;
  /**
   * Session channels open at once per connection; further calls queue. Default 4, below
   * OpenSSH's default MaxSessions of 10, so other tools keep room on the same host.
   */
  maxChannelsPerHost?: number;
  /** Idle time after which an unused connection is closed. Default 60 000 ms. */
  idleCloseMs?: number;
  logger?: SshLogger;
}

export interface RunOptions {
  /**
   * Limit for the script itself, from the moment its channel opens. Connecting and waiting for a
   * free channel are bounded separately, by connectTimeoutMs and by other calls' timeouts.
   */
  timeoutMs: number;
  /** Called when output arrives and at least every 5 s until the call settles; heartbeat from it. */
  onActivity?: () => void;
  /** Aborts the call: closes the channel, kills the script on the host, rejects with AbortError. */
  signal?: AbortSignal;
  /** Bound on each of stdout and stderr, keeping head and tail. Default 64 KiB, minimum 256. */
  maxOutputBytes?: number;
}

/** Maximum gap between two onActivity calls while a call is in progress. */
export const ACTIVITY_INTERVAL_MS = 5000;

/** Time close() gives each host to confirm the disconnect before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 5000;

/** A connection for one key: the promise lets concurrent first calls share a single attempt. */
interface PoolEntry {
  pending: Promise<PooledConnection>;
}

/**
 * Runs scripts on hosts over SSH, with one connection per host (address, port, user and bastion)
 * shared by every call in the process. Create one per worker and close it at shutdown.
 *
 * @example
 * const pool = new SshPool();
 * const result = await pool.run(endpoint, 'systemctl is-active etcd', { timeoutMs: 30_000 });
 * await pool.close();
 */
export class SshPool {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly keepalive: KeepaliveSettings;
  private readonly maxChannels: number;
  private readonly idleCloseMs: number;
  private readonly logger: SshLogger | undefined;
  private closing = false;

  constructor(options: SshPoolOptions = {}) {
    this.keepalive = {
      intervalMs: positiveOption(options.keepaliveIntervalMs, 15_000, 'keepaliveIntervalMs'),
      countMax: positiveOption(options.keepaliveCountMax, 3, 'keepaliveCountMax'),
    };
    this.maxChannels = positiveOption(options.maxChannelsPerHost, 4, 'maxChannelsPerHost');
    this.idleCloseMs = positiveOption(options.idleCloseMs, 60_000, 'idleCloseMs');
    this.logger = options.logger;
  }

  /**
   * Runs `script` with `/bin/bash -s` on the host (as root through `sudo -n` when `endpoint.sudo`),
   * sending it on stdin so that it never appears on a command line.
   *
   * Resolves with the exit status whatever it is, including death by a signal. Rejects with
   * SshConnectError, HostKeyUnknownError, HostKeyMismatchError, SshChannelError,
   * SshConnectionLostError, CommandTimeoutError, CommandAbortedError (name `AbortError`),
   * SudoPasswordRequiredError, SudoPasswordRejectedError, SudoStartTimeoutError or
   * SudoTtyRequiredError. The script must not contain NUL bytes.
   */
  async run(endpoint: SshEndpoint, script: string, options: RunOptions): Promise<RemoteResult> {
    validateEndpoint(endpoint);
    validateRunOptions(endpoint, script, options);
    this.throwIfClosing(endpoint);
    // Read before connecting, so a missing variable fails before anything reaches the host.
    sudoPassword(endpoint);

    const heartbeat = new ActivityHeartbeat(options.onActivity, this.logger, endpoint.host);
    try {
      return await this.runWithReconnect(endpoint, Buffer.from(script, 'utf8'), options, heartbeat);
    } finally {
      heartbeat.stop();
    }
  }

  /** Closes every connection; scripts still running are killed on their hosts. */
  async close(): Promise<void> {
    this.closing = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    const connections = await Promise.allSettled(entries.map((entry) => entry.pending));
    await Promise.all(
      connections.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.closeAndWait(CLOSE_TIMEOUT_MS) : undefined)),
    );
  }

  /**
   * Runs on the pooled connection. A connection found closed before the script started is
   * replaced once, because nothing ran on the host yet. Any later failure is the caller's to retry.
   */
  private async runWithReconnect(
    endpoint: SshEndpoint,
    script: Buffer,
    options: RunOptions,
    heartbeat: ActivityHeartbeat,
  ): Promise<RemoteResult> {
    const maxAttempts = 2;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(endpoint, options.signal, 'before the script started');
      this.throwIfClosing(endpoint);
      try {
        return await this.runOnce(endpoint, script, options, heartbeat);
      } catch (error) {
        if (!(error instanceof ConnectionClosedBeforeStart)) {
          throw error;
        }
        if (attempt >= maxAttempts) {
          throw new SshConnectError(endpoint, 'closed', 'the connection closed twice before the script could start', error);
        }
        this.logger?.info('SSH connection closed before a script started; reconnecting', { host: endpoint.host });
      }
    }
  }

  private async runOnce(
    endpoint: SshEndpoint,
    script: Buffer,
    options: RunOptions,
    heartbeat: ActivityHeartbeat,
  ): Promise<RemoteResult> {
    const connection = await abortable(this.connection(endpoint, endpoint.jump), endpoint, options.signal, 'while connecting');
    if (connection.closed) {
      throw new ConnectionClosedBeforeStart(endpoint);
    }

    const release = await connection.acquireChannel(options.signal);
    const tty = endpoint.tty === true;
    const password = sudoPassword(endpoint);
    const command = buildRemoteCommand({
      sudo: endpoint.sudo,
      sudoPassword: password !== undefined,
      scriptBytes: script.length,
      timeoutMs: options.timeoutMs,
    });
    const opening = connection.openSession(command, tty);
    let channel: ClientChannel;
    try {
      channel = await abortable(opening, endpoint, options.signal, 'while opening a session channel');
    } catch (error) {
      // After an abort the channel may still open: close it then, and free the slot once closed.
      opening.then(
        (late) => {
          late.once('close', release);
          late.close();
        },
        () => release(),
      );
      throw error;
    }
    // The slot is freed when the channel is really closed, not when the call settles, so a
    // timed-out script whose close is still in flight keeps counting against the host's limit.
    channel.once('close', release);

    const result = await runOnChannel(endpoint, channel, script, {
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      signal: options.signal,
      onOutput: () => heartbeat.beat(),
      sudoPassword: password === undefined ? undefined : { value: password, env: endpoint.sudoPasswordEnv! },
    });

    if (endpoint.sudo) {
      const refusal = detectSudoRefusal(result.exitCode, tty ? result.stdout : result.stderr);
      if (refusal === 'password') {
        throw new SudoPasswordRequiredError(endpoint, result);
      }
      if (refusal === 'tty') {
        throw new SudoTtyRequiredError(endpoint, result);
      }
    }
    return result;
  }

  private throwIfClosing(target: ConnectionTarget): void {
    if (this.closing) {
      throw new Error(`run script on ${describeTarget(target)}: the SSH pool is closed; create a new SshPool`);
    }
  }

  /** Returns the pooled connection for a target, opening it (and its bastion's) if needed. */
  private connection(target: ConnectionTarget, jump: ConnectionTarget | undefined): Promise<PooledConnection> {
    const key = connectionKey(target, jump);
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      return existing.pending;
    }

    const entry: PoolEntry = { pending: this.openConnection(target, jump, key, () => entry) };
    this.entries.set(key, entry);
    entry.pending.catch(() => {
      if (this.entries.get(key) === entry) {
        this.entries.delete(key);
      }
    });
    return entry.pending;
  }

  private async openConnection(
    target: ConnectionTarget,
    jump: ConnectionTarget | undefined,
    key: string,
    ownEntry: () => PoolEntry,
  ): Promise<PooledConnection> {
    let tunnel;
    if (jump !== undefined) {
      const bastion = await this.connection(jump, undefined);
      tunnel = { stream: await bastion.openTunnel(target), bastion: describeTarget(jump) };
    }

    let client;
    try {
      client = await openClient(target, this.keepalive, tunnel);
    } catch (error) {
      tunnel?.stream.destroy();
      throw error;
    }

    const connection = new PooledConnection(
      target,
      client,
      { maxChannels: this.maxChannels, idleCloseMs: this.idleCloseMs },
      (closed, reason) => {
        if (this.entries.get(key) === ownEntry()) {
          this.entries.delete(key);
        }
        this.logger?.info('SSH connection closed', { host: closed.target.host, address: closed.target.address, reason });
      },
    );
    this.logger?.info('SSH connection opened', { host: target.host, address: target.address, port: target.port, via: jump?.host });
    return connection;
  }
}

/**
 * Returns the sudo password from the worker's environment when the endpoint names a variable for
 * it. Throws SshConnectError (reason `config`) naming the variable, never its value, when unset.
 */
function sudoPassword(endpoint: SshEndpoint): string | undefined {
  if (!endpoint.sudo || endpoint.sudoPasswordEnv === undefined) {
    return undefined;
  }
  const value = process.env[endpoint.sudoPasswordEnv];
  if (value === undefined || value === '') {
    throw new SshConnectError(
      endpoint,
      'config',
      `environment variable ${endpoint.sudoPasswordEnv} (sudoPasswordEnv) is not set on the worker; set it to the sudo password of user ${endpoint.user}`,
    );
  }
  if (/[\r\n]/.test(value)) {
    throw new SshConnectError(endpoint, 'config', `environment variable ${endpoint.sudoPasswordEnv} (sudoPasswordEnv) contains a line break, which sudo -S cannot read; remove it`);
  }
  return value;
}

function connectionKey(target: ConnectionTarget, jump: ConnectionTarget | undefined): string {
  const own = `${target.user}@${target.address}:${target.port}`;
  return jump === undefined ? own : `${own} via ${connectionKey(jump, undefined)}`;
}

/** Calls onActivity on every beat and at least every ACTIVITY_INTERVAL_MS until stopped. */
class ActivityHeartbeat {
  private readonly timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly onActivity: (() => void) | undefined,
    private readonly logger: SshLogger | undefined,
    private readonly host: string,
  ) {
    if (onActivity !== undefined) {
      this.timer = setInterval(() => this.beat(), ACTIVITY_INTERVAL_MS);
    }
  }

  beat(): void {
    if (this.onActivity === undefined) {
      return;
    }
    try {
      this.onActivity();
    } catch (error) {
      // A failing heartbeat must not fail the script, so it is only logged, once per call.
      if (!this.warned) {
        this.warned = true;
        this.logger?.warn('onActivity callback failed', { host: this.host, error: (error as Error).message });
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function abortable<T>(promise: Promise<T>, target: ConnectionTarget, signal: AbortSignal | undefined, stage: string): Promise<T> {
  if (signal === undefined) {
    return promise;
  }
  throwIfAborted(target, signal, stage);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CommandAbortedError(target, stage, signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

function throwIfAborted(target: ConnectionTarget, signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) {
    throw new CommandAbortedError(target, stage, signal.reason);
  }
}

function validateRunOptions(endpoint: SshEndpoint, script: string, options: RunOptions): void {
  const fail = (detail: string): never => {
    throw new TypeError(`run script on ${describeTarget(endpoint)}: ${detail}`);
  };
  if (typeof script !== 'string') fail('the script must be a string');
  if (script.includes('\0')) fail('the script contains a NUL byte, which bash cannot read');
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    fail(`invalid timeoutMs ${options.timeoutMs}: expected a positive number of milliseconds`);
  }
  const max = options.maxOutputBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < MIN_MAX_OUTPUT_BYTES)) {
    fail(`invalid maxOutputBytes ${max}: expected an integer of at least ${MIN_MAX_OUTPUT_BYTES}`);
  }
}

function positiveOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`invalid SshPool option ${name}: ${value}; expected a positive number`);
  }
  return value;
}
