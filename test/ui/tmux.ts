/**
 * Runs a command in a real pseudo-terminal: a detached tmux session on a tmux server of its own
 * (its own socket), so the test neither reads nor disturbs anyone else's sessions.
 */
import { spawnSync } from 'node:child_process';

export interface TerminalSize {
  columns: number;
  rows: number;
}

export class TmuxSession {
  private constructor(
    readonly socket: string,
    readonly name: string,
  ) {}

  /**
   * Starts `shellCommand` through the shell in a new session of the given size. The tmux server
   * starts with `env`, so the command gets exactly that environment.
   */
  static start(socket: string, name: string, shellCommand: string, size: TerminalSize, env: NodeJS.ProcessEnv): TmuxSession {
    const session = new TmuxSession(socket, name);
    session.tmux(['-f', '/dev/null', 'new-session', '-d', '-s', name, '-x', String(size.columns), '-y', String(size.rows), shellCommand], env);
    return session;
  }

  /** Returns what the terminal shows now, one string per row, without trailing blank rows. */
  capture(): string[] {
    const rows = this.tmux(['capture-pane', '-p', '-t', this.name]).split('\n');
    while (rows.length > 0 && rows[rows.length - 1].trim() === '') rows.pop();
    return rows;
  }

  /** Stops the session and its tmux server; safe to call twice. */
  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { encoding: 'utf8', timeout: 10_000 });
  }

  private tmux(args: string[], env: NodeJS.ProcessEnv = process.env): string {
    const result = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', timeout: 10_000, env });
    if (result.error) throw new Error(`tmux ${args[0]} could not run: ${result.error.message}; install tmux (scripts/ensure-deps.sh)`);
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
    return result.stdout;
  }
}
