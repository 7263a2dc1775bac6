import type { Duplex } from 'node:stream';

import type { Client, ClientChannel } from 'ssh2';

import { RAW_TERMINAL_MODES } from './command.js';
import type { ConnectionTarget } from './endpoint.js';
import { describeTarget } from './endpoint.js';
import { CommandAbortedError, SshChannelError, SshConnectError } from './errors.js';

/**
 * Raised inside the pool when a connection turns out to be closed before a script started on it.
 * Nothing ran on the host yet, so the pool opens a new connection and tries once more.
 */
export class ConnectionClosedBeforeStart extends Error {
  constructor(target: ConnectionTarget) {
    super(`open session on ${describeTarget(target)}: the connection closed before the script started`);
    this.name = 'ConnectionClosedBeforeStart';
  }
}

interface ChannelWaiter {
  grant: (release: () => void) => void;
  reject: (error: Error) => void;
}

/**
 * One authenticated connection shared by every call to its host. It bounds the session channels
 * open at once, queues the rest in arrival order, and closes itself after a quiet period.
 */
export class PooledConnection {
  private activeChannels = 0;
  private openTunnels = 0;
  private readonly waiters: ChannelWaiter[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private closedFlag = false;

  constructor(
    readonly target: ConnectionTarget,
    private readonly client: Client,
    private readonly limits: { maxChannels: number; idleCloseMs: number },
    private readonly onClosed: (connection: PooledConnection, reason: string) => void,
  ) {
    client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    client.on('close', () => this.markClosed());
    this.armIdleTimer();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Why the connection closed, for messages: the transport error, or a normal close. */
  get closeReason(): string {
    return this.lastError ?? 'closed by the host or the network';
  }

  /**
   * Waits for a free session slot and returns the function that frees it. Waiters are served in
   * arrival order. Rejects with ConnectionClosedBeforeStart if the connection closes first, or with
   * CommandAbortedError if `signal` fires while waiting.
   */
  acquireChannel(signal?: AbortSignal): Promise<() => void> {
    if (this.closedFlag) {
      return Promise.reject(new ConnectionClosedBeforeStart(this.target));
    }
    this.disarmIdleTimer();
    if (this.activeChannels < this.limits.maxChannels) {
      this.activeChannels++;
      return Promise.resolve(this.releaseOnce());
    }

    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) {
          this.waiters.splice(index, 1);
        }
        reject(new CommandAbortedError(this.target, 'while waiting for a free session channel', signal?.reason));
        this.armIdleTimer();
      };
      const waiter: ChannelWaiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Opens a session channel running `command`, with a raw pseudo-terminal when `tty` is set. */
  openSession(command: string, tty: boolean): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      const callback = (error: Error | undefined, channel: ClientChannel): void => {
        if (!error) {
          resolve(channel);
        } else if (this.closedFlag || /No response from server|Not connected/i.test(error.message)) {
          reject(new ConnectionClosedBeforeStart(this.target));
        } else {
          reject(new SshChannelError(this.target, error.message, error));
        }
      };
      try {
        if (tty) {
          this.client.exec(command, { pty: { term: 'dumb', rows: 24, cols: 200, modes: RAW_TERMINAL_MODES } }, callback);
        } else {
          this.client.exec(command, callback);
        }
      } catch (error) {
        reject(this.closedFlag ? new ConnectionClosedBeforeStart(this.target) : new SshChannelError(this.target, (error as Error).message, error));
      }
    });
  }

  /**
   * Opens a TCP tunnel from this host (a bastion) to `destination`. The connection stays open,
   * whatever its idle timer, while any tunnel through it is open.
   */
  openTunnel(destination: ConnectionTarget): Promise<Duplex> {
    const failure = (detail: string, cause?: unknown): SshConnectError =>
      new SshConnectError(destination, 'unreachable', `bastion ${describeTarget(this.target)} ${detail}`, cause);

    return new Promise((resolve, reject) => {
      if (this.closedFlag) {
        reject(failure(`is disconnected: ${this.closeReason}`));
        return;
      }
      this.disarmIdleTimer();
      this.openTunnels++;
      let counted = true;
      const forget = (): void => {
        if (counted) {
          counted = false;
          this.openTunnels--;
          this.armIdleTimer();
        }
      };

      // A bastion that accepts the request but never replies would otherwise hold the caller.
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        forget();
        reject(failure(`did not open a tunnel within ${destination.connectTimeoutMs} ms`));
      }, destination.connectTimeoutMs);

      this.client.forwardOut('127.0.0.1', 0, destination.address, destination.port, (error, stream) => {
        clearTimeout(timer);
        if (timedOut) {
          stream?.destroy();
          return;
        }
        if (error) {
          forget();
          reject(failure(`cannot reach ${destination.address}:${destination.port}: ${error.message}`, error));
          return;
        }
        stream.on('close', forget);
        resolve(stream);
      });
    });
  }

  /** Ends the connection; running channels close with it. */
  close(): void {
    this.disarmIdleTimer();
    this.client.end();
  }

  /** Resolves once the transport is closed, or after `timeoutMs` if the host never confirms. */
  async closeAndWait(timeoutMs: number): Promise<void> {
    if (this.closedFlag) {
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, timeoutMs);
      timer.unref();
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.close();
    });
  }

  private releaseOnce(): () => void {
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      this.activeChannels--;
      const next = this.waiters.shift();
      if (next !== undefined && !this.closedFlag) {
        this.activeChannels++;
        next.grant(this.releaseOnce());
        return;
      }
      this.armIdleTimer();
    };
  }

  private markClosed(): void {
    if (this.closedFlag) {
      return;
    }
    this.closedFlag = true;
    this.disarmIdleTimer();
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new ConnectionClosedBeforeStart(this.target));
    }
    this.onClosed(this, this.closeReason);
  }

  private armIdleTimer(): void {
    if (this.closedFlag || this.activeChannels > 0 || this.openTunnels > 0 || this.waiters.length > 0) {
      return;
    }
    this.disarmIdleTimer();
    this.idleTimer = setTimeout(() => this.close(), this.limits.idleCloseMs);
    // An idle connection alone must not keep the worker process alive.
    this.idleTimer.unref();
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }
}
