import type { ClientChannel } from 'ssh2';

import type { ConnectionTarget } from './endpoint.js';
import { CommandAbortedError, CommandTimeoutError, SshConnectionLostError } from './errors.js';
import type { RemoteResult } from './result.js';
import { BoundedOutput } from './result.js';

/**
 * How long to wait for the channel to close after the exit status arrived. A background process
 * that kept the script's stdout open would otherwise hold the call until its timeout.
 */
const CLOSE_AFTER_EXIT_GRACE_MS = 2000;

export interface ChannelRunOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** Called for every chunk of output. */
  onOutput: () => void;
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

  return new Promise<RemoteResult>((resolve, reject) => {
    let settled = false;
    let exitGraceTimer: NodeJS.Timeout | undefined;

    const settle = (finish: () => void): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(exitGraceTimer);
      options.signal?.removeEventListener('abort', onAbort);
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

    channel.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      options.onOutput();
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      options.onOutput();
    });
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
    channel.write(script);
  });
}
