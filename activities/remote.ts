/**
 * Runs a script on a host from inside an activity: heartbeats while it runs, stops it when the
 * activity is cancelled, and turns a failed run into an error a person can act on.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { RemoteResult, SshEndpoint, SshPool } from './ssh/index.js';

/** Output kept per stream, head and tail, in results and errors (they land in workflow history). */
export const MAX_OUTPUT_BYTES = 8 * 1024;

/** The last `kboot: failed ...` line a script printed, else the tail of stderr. */
function failureDetail(result: RemoteResult): string {
  const failedLine = result.stderr
    .split('\n')
    .filter((line: string) => line.startsWith('kboot: failed ') || line.startsWith('kboot: verify failed: ') || line.startsWith('preflight: '))
    .map((line: string) => line.replace(/^kboot: /, ''));
  const tail = result.stderr.trim().split('\n').slice(-6).join('\n');
  return failedLine.length > 0 ? `${failedLine.join('; ')}\n${tail}` : tail || result.stdout.trim().split('\n').slice(-6).join('\n');
}

function exitDescription(result: RemoteResult): string {
  // A process killed by a signal has no exit code; that is a failure, never a success.
  if (result.exitCode === null) return result.signal ? `killed by signal ${result.signal}` : 'ended without an exit code';
  return `exit code ${result.exitCode}`;
}

export interface RemoteRunOptions {
  /** What is being done, for messages: `etcd on node2`. */
  action: string;
  timeoutMs: number;
  /** Output to keep per stream for the caller to parse; errors keep MAX_OUTPUT_BYTES at most. */
  maxOutputBytes?: number;
  /** A failure this returns true for is final: retrying cannot change it. */
  isFinal?: (result: RemoteResult) => boolean;
}

/** Runs `script`; resolves only on exit code 0, otherwise throws a retryable ApplicationFailure. */
export async function runRemote(pool: SshPool, endpoint: SshEndpoint, script: string, options: RemoteRunOptions): Promise<RemoteResult> {
  const context = Context.current();
  let result: RemoteResult;
  try {
    result = await pool.run(endpoint, script, {
      timeoutMs: options.timeoutMs,
      onActivity: () => context.heartbeat(),
      signal: context.cancellationSignal,
      maxOutputBytes: options.maxOutputBytes ?? MAX_OUTPUT_BYTES,
    });
  } catch (error) {
    // A wrong host key or a sudo that wants a password fails the same way on every attempt.
    if (error instanceof Error && (error as { nonRetryable?: boolean }).nonRetryable) {
      throw ApplicationFailure.nonRetryable(`${options.action}: ${error.message}`, error.name);
    }
    throw error;
  }
  if (result.exitCode !== 0) {
    throw ApplicationFailure.create({
      type: 'RemoteCommandFailed',
      nonRetryable: options.isFinal?.(result) ?? false,
      message: `${options.action}: ${exitDescription(result)}: ${failureDetail(result)}`,
      details: [{ exitCode: result.exitCode, signal: result.signal, stdout: result.stdout.slice(-MAX_OUTPUT_BYTES), stderr: result.stderr.slice(-MAX_OUTPUT_BYTES) }],
    });
  }
  return result;
}
