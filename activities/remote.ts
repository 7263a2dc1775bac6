/**
 * Runs a script on a host from inside an activity. It heartbeats while the script runs, stops it
 * when the activity is cancelled, uses a pseudo-terminal where sudo requires one, and turns a
 * failed run into an error a person can act on. Everything it returns or throws lands in workflow
 * history, so output is bounded and the worker's secrets are redacted from it.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CommandAbortedError, SshError, SudoTtyRequiredError } from './ssh/index.js';
import type { RemoteResult, SshEndpoint, SshPool } from './ssh/index.js';

/** Output kept per stream, head and tail, in errors (they land in workflow history). */
export const MAX_OUTPUT_BYTES = 8 * 1024;

/** Placeholder for a secret in output and messages. */
export const REDACTED = '[redacted]';

/**
 * Hosts (user, address and port) whose sudo required a tty, remembered for the worker's lifetime
 * so that later scripts start with one instead of being refused first.
 */
const hostsRequiringTty = new Set<string>();

function ttyKey(endpoint: SshEndpoint): string {
  return `${endpoint.user}@${endpoint.address}:${endpoint.port}`;
}

/**
 * Returns the secret values the endpoint names: the key passphrases and the sudo password, read
 * from the worker's environment. Empty values are left out, since there is nothing to hide.
 */
export function secretValues(endpoint: SshEndpoint): string[] {
  const names = [endpoint.passphraseEnv, endpoint.sudo ? endpoint.sudoPasswordEnv : undefined, endpoint.jump?.passphraseEnv];
  const values = names.flatMap((name) => (name === undefined ? [] : [process.env[name] ?? '']));
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(values.filter((value) => value !== ''))].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret in `text` with REDACTED. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((redacted, secret) => redacted.split(secret).join(REDACTED), text);
}

/** One output stream cut to `maxBytes`, with the bytes dropped here and by the SSH layer. */
export interface BoundedStream {
  text: string;
  omittedBytes: number;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes plus a marker line, keeping its head and tail,
 * as the SSH layer does. `alreadyOmitted` counts bytes the SSH layer dropped before.
 */
export function boundStream(text: string, alreadyOmitted: number, maxBytes = MAX_OUTPUT_BYTES): BoundedStream {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, omittedBytes: alreadyOmitted };
  const half = Math.floor(maxBytes / 2);
  // Decoding drops a character cut in two, which costs at most 3 bytes at each end.
  const head = bytes.subarray(0, half).toString('utf8').replace(/\uFFFD$/, '');
  const tail = bytes.subarray(bytes.length - half).toString('utf8').replace(/^\uFFFD/, '');
  const omittedHere = bytes.length - Buffer.byteLength(head) - Buffer.byteLength(tail);
  const omittedBytes = alreadyOmitted + omittedHere;
  return { text: `${head}\n[... ${omittedBytes} bytes omitted ...]\n${tail}`, omittedBytes };
}

/** Names how much of each stream was cut, or returns '' when nothing was. */
export function omissionNote(stdout: BoundedStream, stderr: BoundedStream): string {
  const cut = [
    stdout.omittedBytes > 0 ? `${stdout.omittedBytes} bytes of stdout` : '',
    stderr.omittedBytes > 0 ? `${stderr.omittedBytes} bytes of stderr` : '',
  ].filter(Boolean);
  if (cut.length === 0) return '';
  return ` (output cut: ${cut.join(' and ')} omitted from the middle; at most ${MAX_OUTPUT_BYTES} bytes per stream are kept)`;
}

/**
 * Returns the result as failure checks read it. Under a pseudo-terminal the terminal merges stderr
 * into stdout, so stderr is empty there and stdout is read in its place.
 */
function diagnosticView(result: RemoteResult, tty: boolean): RemoteResult {
  return tty && result.stderr === '' ? { ...result, stderr: result.stdout } : result;
}

/** Returns the `kboot: failed ...` lines a script printed, else the tail of stderr. */
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

/** Output of a failed run for the error's details: bounded per stream and redacted. */
function outputDetails(result: RemoteResult, secrets: readonly string[]): { stdout: BoundedStream; stderr: BoundedStream } {
  return {
    stdout: boundStream(redact(result.stdout, secrets), result.stdoutOmittedBytes),
    stderr: boundStream(redact(result.stderr, secrets), result.stderrOmittedBytes),
  };
}

export interface RemoteRunOptions {
  /** What is being done, for messages: `etcd on node2`. */
  action: string;
  timeoutMs: number;
  /** Output to keep per stream for the caller to parse; errors keep MAX_OUTPUT_BYTES at most. */
  maxOutputBytes?: number;
  /** A failure this returns true for is final: retrying cannot change it. Under a tty, stderr reads as stdout. */
  isFinal?: (result: RemoteResult) => boolean;
}

/** Turns an SSH layer error into an ApplicationFailure with the action first and no secret in it. */
function toFailure(error: unknown, action: string, secrets: readonly string[]): unknown {
  // Cancellation keeps its own error, which the activity runtime reports as cancelled.
  if (!(error instanceof SshError) || error instanceof CommandAbortedError) return error;
  const partial = (error as { partial?: RemoteResult; result?: RemoteResult }).partial ?? (error as { result?: RemoteResult }).result;
  const details = partial === undefined ? undefined : outputDetails(partial, secrets);
  const note = details === undefined ? '' : omissionNote(details.stdout, details.stderr);
  return ApplicationFailure.create({
    type: error.name,
    message: redact(`${action}: ${error.message}${note}`, secrets),
    nonRetryable: error.nonRetryable,
    details: details === undefined ? undefined : [{ stdout: details.stdout.text, stderr: details.stderr.text }],
  });
}

/**
 * Runs `script` and resolves only on exit code 0, with redacted output. Otherwise it throws an
 * ApplicationFailure, retryable unless the SSH layer's error or `isFinal` marks it final.
 *
 * An endpoint whose `tty` is undefined runs without a pseudo-terminal until the host's sudo
 * requires one (SudoTtyRequiredError, raised before the script starts), then runs again with one.
 */
export async function runRemote(pool: SshPool, endpoint: SshEndpoint, script: string, options: RemoteRunOptions): Promise<RemoteResult> {
  const context = Context.current();
  const secrets = secretValues(endpoint);
  const autoTty = endpoint.tty === undefined;
  const run = (tty: boolean): Promise<RemoteResult> =>
    pool.run({ ...endpoint, tty }, script, {
      timeoutMs: options.timeoutMs,
      onActivity: () => context.heartbeat(),
      signal: context.cancellationSignal,
      maxOutputBytes: options.maxOutputBytes ?? MAX_OUTPUT_BYTES,
    });

  let tty = endpoint.tty ?? hostsRequiringTty.has(ttyKey(endpoint));
  let result: RemoteResult;
  try {
    try {
      result = await run(tty);
    } catch (error) {
      if (!(autoTty && !tty && error instanceof SudoTtyRequiredError)) throw error;
      log.info('sudo requires a tty; running the script again with a pseudo-terminal', { host: endpoint.host, action: options.action });
      hostsRequiringTty.add(ttyKey(endpoint));
      tty = true;
      result = await run(tty);
    }
  } catch (error) {
    throw toFailure(error, options.action, secrets);
  }

  result = { ...result, stdout: redact(result.stdout, secrets), stderr: redact(result.stderr, secrets) };
  if (result.exitCode !== 0) {
    const view = diagnosticView(result, tty);
    const details = outputDetails(result, []);
    throw ApplicationFailure.create({
      type: 'RemoteCommandFailed',
      nonRetryable: options.isFinal?.(view) ?? false,
      message: `${options.action}: ${exitDescription(result)}: ${boundStream(failureDetail(view), 0).text}${omissionNote(details.stdout, details.stderr)}`,
      details: [{ exitCode: result.exitCode, signal: result.signal, stdout: details.stdout.text, stderr: details.stderr.text }],
    });
  }
  return result;
}
