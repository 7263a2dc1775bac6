import type { ClientChannel } from 'ssh2';

import type { ConnectionTarget } from './endpoint.js';
import { CommandAbortedError, CommandTimeoutError, SshConnectionLostError, SudoPasswordRejectedError, SudoStartTimeoutError } from './errors.js';
import type { RemoteResult } from './result.js';
import { BoundedOutput } from './result.js';
import type { OutputStream } from './sudo.js';
import { SudoHandshake } from './sudo.js';

/**
 * How long to wait for the channel to close after the exit status arrived. A background process
 * that kept the script's stdout open would otherwise hold the call until its timeout.
 */
const CLOSE_AFTER_EXIT_GRACE_MS = 2000;

/**
 * How long `sudo -S` may take to prompt and start the wrapper. sudo responds in well under a second
 * on a healthy host, so a host that takes longer is retried rather than waited on until the timeout.
 */
export const SUDO_HANDSHAKE_TIMEOUT_MS = 30_000;

export interface ChannelRunOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** Called for every chunk of output. */
  onOutput: () => void;
  /**
   * The sudo password and the environment variable it came from, when the remote command runs
   * `sudo -S`: the script is sent only after the handshake (see SudoHandshake).
   */
  sudoPassword?: { value: string; env: string };
}

/**
 * Sends the script over an open session channel and collects the outcome. Timeout and abort close
 * the channel, which makes the remote wrapper kill the script's process group, and reject at once.
 * Resolves with the exit status or signal; rejects with CommandTimeoutError, CommandAbortedError or
 * SshConnectionLostError, each carrying the output received so far where there is one.
 */
export function runOnChannel(
  target: ConnectionTarget,
  channel: ClientChannel,
  script: Buffer,
  options: ChannelRunOptions,
): Promise<RemoteResult> {
  const startedAt = Date.now();
  const stdout = new BoundedOutput(options.maxOutputBytes);
  const stderr = new BoundedOutput(options.maxOutputBytes);
  let exit: { code: number | null; signal: string | null } | undefined;
  let channelClosed = false;
  let stderrEnded = false;

  const snapshot = (): RemoteResult => {
    const out = stdout.finish();
    const err = stderr.finish();
    return {
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
      stdout: out.text,
      stderr: err.text,
      stdoutOmittedBytes: out.omittedBytes,
      stderrOmittedBytes: err.omittedBytes,
      durationMs: Date.now() - startedAt,
    };
  };

  const handshake = options.sudoPassword === undefined ? undefined : new SudoHandshake(options.sudoPassword.value);
  const releaseHeldOutput = (): void => {
    if (handshake === undefined) {
      return;
    }
    const held = handshake.release();
    stdout.push(held.stdout);
    stderr.push(held.stderr);
  };

  return new Promise<RemoteResult>((resolve, reject) => {
    let settled = false;
    let exitGraceTimer: NodeJS.Timeout | undefined;
    let handshakeTimer: NodeJS.Timeout | undefined;

    const settle = (finish: () => void): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(exitGraceTimer);
      clearTimeout(handshakeTimer);
      options.signal?.removeEventListener('abort', onAbort);
      releaseHeldOutput();
      finish();
    };

    const timeoutTimer = setTimeout(() => {
      settle(() => {
        channel.close();
        reject(new CommandTimeoutError(target, options.timeoutMs, snapshot()));
      });
    }, options.timeoutMs);

    const onAbort = (): void => {
      settle(() => {
        channel.close();
        reject(new CommandAbortedError(target, 'while the script ran', options.signal?.reason));
      });
    };

    const finishIfDone = (): void => {
      if (!channelClosed || !stderrEnded) {
        return;
      }
      settle(() => {
        if (exit === undefined) {
          reject(new SshConnectionLostError(target, 'the channel closed before the script reported an exit status', snapshot()));
        } else {
          resolve(snapshot());
        }
      });
    };

    const receive = (stream: OutputStream, chunk: Buffer): void => {
      options.onOutput();
      if (handshake === undefined || !handshake.waiting) {
        (stream === 'stdout' ? stdout : stderr).push(chunk);
        return;
      }
      const step = handshake.feed(stream, chunk);
      if (step.answer !== undefined) {
        channel.write(step.answer);
      } else if (step.ready === true) {
        clearTimeout(handshakeTimer);
        releaseHeldOutput();
        channel.write(script);
      } else if (step.rejected === true) {
        settle(() => {
          channel.close();
          reject(new SudoPasswordRejectedError(target, options.sudoPassword!.env, snapshot()));
        });
      }
    };
    channel.on('data', (chunk: Buffer) => receive('stdout', chunk));
    channel.stderr.on('data', (chunk: Buffer) => receive('stderr', chunk));
    channel.stderr.on('end', () => {
      stderrEnded = true;
      finishIfDone();
    });
    channel.on('exit', (code: number | null, signalName?: string) => {
      exit = code === null ? { code: null, signal: (signalName ?? '').replace(/^SIG/, '') || null } : { code, signal: null };
      if (!settled) {
        exitGraceTimer = setTimeout(() => channel.close(), CLOSE_AFTER_EXIT_GRACE_MS);
      }
    });
    channel.on('close', () => {
      channelClosed = true;
      finishIfDone();
    });
    channel.on('error', (error: Error) => {
      settle(() => {
        channel.close();
        reject(new SshConnectionLostError(target, error.message, snapshot(), error));
      });
    });

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (handshake === undefined) {
      channel.write(script);
      return;
    }
    handshakeTimer = setTimeout(() => {
      settle(() => {
        channel.close();
        reject(new SudoStartTimeoutError(target, SUDO_HANDSHAKE_TIMEOUT_MS, snapshot()));
      });
    }, Math.min(SUDO_HANDSHAKE_TIMEOUT_MS, options.timeoutMs));
  });
}
