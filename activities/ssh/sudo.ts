import { SUDO_PROMPT, SUDO_READY_LINE } from './command.js';

export type OutputStream = 'stdout' | 'stderr';

/** Action for the channel after a chunk of output that arrived during the sudo handshake. */
export interface HandshakeStep {
  /** Line to write to the channel: the password, answering sudo's first prompt. */
  answer?: string;
  /** The wrapper runs as root and waits for the script. */
  ready?: boolean;
  /** sudo prompted a second time: it rejected the password. */
  rejected?: boolean;
}

/**
 * Follows `sudo -S` on a channel until the script may be sent. It answers the first password
 * prompt, reports a second prompt as a rejected password, and notices the wrapper's ready line.
 * Output before the ready line is held back, and `release` returns it without the prompts and the
 * ready line. Output is held as latin1 text, so `release` gives back the exact bytes.
 */
export class SudoHandshake {
  private readonly held: Record<OutputStream, string> = { stdout: '', stderr: '' };
  private answered = false;
  private state: 'waiting' | 'ready' | 'rejected' = 'waiting';

  constructor(private readonly password: string) {}

  get waiting(): boolean {
    return this.state === 'waiting';
  }

  feed(stream: OutputStream, chunk: Buffer): HandshakeStep {
    this.held[stream] += chunk.toString('latin1');

    // sudo -S ends its prompt without a newline, so the ready line may follow it directly.
    if (readyLinePattern().test(this.held[stream].split(SUDO_PROMPT).join('\n'))) {
      this.state = 'ready';
      return { ready: true };
    }
    const prompts = countOf(this.held.stdout, SUDO_PROMPT) + countOf(this.held.stderr, SUDO_PROMPT);
    if (prompts === 0) {
      return {};
    }
    if (!this.answered) {
      this.answered = true;
      return { answer: `${this.password}\n` };
    }
    if (prompts > 1) {
      this.state = 'rejected';
      return { rejected: true };
    }
    return {};
  }

  /** Returns the held output of both streams, without prompts and the ready line, and empties it. */
  release(): Record<OutputStream, Buffer> {
    // On a terminal sudo ends the password line with a newline of its own, which goes too.
    const clean = (text: string): Buffer =>
      Buffer.from(text.split(SUDO_PROMPT).join('\u0000').replace(/\u0000\r*\n?/g, '').replace(readyLinePattern(), '$1'), 'latin1');
    const released = { stdout: clean(this.held.stdout), stderr: clean(this.held.stderr) };
    this.held.stdout = '';
    this.held.stderr = '';
    return released;
  }
}

/** Matches the ready line at the start of a line, ended by LF or by the CR LF of a terminal. */
function readyLinePattern(): RegExp {
  return new RegExp(`(^|\\n)${SUDO_READY_LINE}\\r*\\n`);
}

function countOf(text: string, part: string): number {
  return text.split(part).length - 1;
}
