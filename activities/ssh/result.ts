/**
 * Outcome of one remote script. A script killed by a signal has `exitCode` null and `signal` set
 * (`'TERM'`, without the `SIG` prefix); the caller decides what counts as failure.
 */
export interface RemoteResult {
  exitCode: number | null;
  signal: string | null;
  /** Standard output as UTF-8 with CRLF turned into LF, at most `maxOutputBytes` bytes long. */
  stdout: string;
  /** Standard error, bounded like `stdout`. Empty for a tty endpoint, whose terminal merges both. */
  stderr: string;
  /** Bytes dropped from the middle of standard output to respect the bound. */
  stdoutOmittedBytes: number;
  stderrOmittedBytes: number;
  /** From opening the session channel to the end of the script. */
  durationMs: number;
}

/** Default bound on each of stdout and stderr: enough for a failing command's diagnostics. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Smallest accepted bound: the head, the omission marker line and the tail must all fit.
 */
export const MIN_MAX_OUTPUT_BYTES = 256;

/**
 * Collects one output stream, keeping its first and last bytes within `maxBytes` so that both the
 * command's start and its final error survive a flood of output.
 */
export class BoundedOutput {
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private totalBytes = 0;

  constructor(private readonly maxBytes: number) {
    this.headLimit = Math.ceil(maxBytes / 2);
    this.tailLimit = maxBytes - this.headLimit;
  }

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;

    let rest = chunk;
    if (this.headBytes < this.headLimit) {
      const taken = rest.subarray(0, this.headLimit - this.headBytes);
      this.head.push(taken);
      this.headBytes += taken.length;
      rest = rest.subarray(taken.length);
    }
    if (rest.length === 0) {
      return;
    }

    this.tail.push(rest);
    this.tailBytes += rest.length;
    // Compacting only at twice the limit keeps the cost per byte constant.
    if (this.tailBytes > 2 * this.tailLimit) {
      const joined = Buffer.concat(this.tail);
      const kept = joined.subarray(joined.length - this.tailLimit);
      this.tail = [kept];
      this.tailBytes = kept.length;
    }
  }

  /** Returns the decoded text and how many bytes were dropped from its middle. */
  finish(): { text: string; omittedBytes: number } {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);

    if (this.totalBytes <= this.maxBytes) {
      return { text: decodeOutput(Buffer.concat([head, tail])), omittedBytes: 0 };
    }

    // The marker is counted against the bound, sized for the largest count it can show.
    const reserve = Buffer.byteLength(omissionMarker(this.totalBytes));
    tail = tail.subarray(Math.max(0, tail.length - (this.tailLimit - reserve)));
    const headKept = trimIncompleteEnd(head);
    const tailKept = trimContinuationStart(tail);
    const omittedBytes = this.totalBytes - headKept.length - tailKept.length;

    const text = decodeOutput(headKept) + omissionMarker(omittedBytes) + decodeOutput(tailKept);
    return { text, omittedBytes };
  }
}

function omissionMarker(omittedBytes: number): string {
  return `\n[... ${omittedBytes} bytes omitted ...]\n`;
}

/**
 * Decodes UTF-8 and ends lines with LF. A terminal turns each LF into CRLF, and a script's own CRLF
 * into CR CR LF, so every run of CRs before an LF goes.
 */
function decodeOutput(bytes: Buffer): string {
  return new TextDecoder('utf-8').decode(bytes).replace(/\r+\n/g, '\n');
}

/** Drops a UTF-8 sequence cut off at the end, so the cut does not decode as U+FFFD. */
function trimIncompleteEnd(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) {
      continue;
    }
    return utf8SequenceLength(byte) > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/** Returns the length of the UTF-8 sequence that starts with `leadByte`. */
function utf8SequenceLength(leadByte: number): number {
  if (leadByte >= 0xf0) {
    return 4;
  }
  if (leadByte >= 0xe0) {
    return 3;
  }
  if (leadByte >= 0xc0) {
    return 2;
  }
  return 1;
}

/** Drops continuation bytes at the start, left over from a sequence cut off before them. */
function trimContinuationStart(bytes: Buffer): Buffer {
  let start = 0;
  while (start < Math.min(3, bytes.length) && (bytes[start] & 0xc0) === 0x80) {
    start++;
  }
  return bytes.subarray(start);
}
