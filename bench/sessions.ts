/**
 * Samples, from /proc, how many SSH connections and sessions each sandbox host's sshd serves at
 * once, so the benchmark can show how far a tool stays from sshd's MaxStartups and MaxSessions.
 * Sampling can miss a peak shorter than its interval, so the figures are lower bounds. The
 * benchmark therefore also sets sshd to its default limits and counts sshd's messages for a hit.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface SessionPeaks {
  /** Most authenticated connections one host served at once. */
  connections: number;
  /** Most session channels (commands) one host ran at once. */
  sessions: number;
  /** Most connections one host had before authentication at once (what MaxStartups counts). */
  unauthenticated: number;
  samples: number;
  /** Mean of the machine's 1-minute load average over the samples: other work on the machine shows here. */
  meanLoad: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // The process ended between listing /proc and reading it.
    return undefined;
  }
}

export class SessionSampler {
  private readonly hostByNetns = new Map<string, string>();
  private readonly peaks: SessionPeaks = { connections: 0, sessions: 0, unauthenticated: 0, samples: 0, meanLoad: 0 };
  private loadTotal = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `initPids` are the root-namespace pids of the hosts' PID 1, which name each host's network namespace. */
  constructor(initPids: Record<string, number>) {
    for (const [host, pid] of Object.entries(initPids)) this.hostByNetns.set(readlinkSync(`/proc/${pid}/ns/net`), host);
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): SessionPeaks {
    clearInterval(this.timer);
    return { ...this.peaks, meanLoad: this.peaks.samples > 0 ? this.loadTotal / this.peaks.samples : 0 };
  }

  private sample(): void {
    const perHost = new Map<string, { connections: number; sessions: number; unauthenticated: number }>();
    const userProcesses = new Map<string, string>();
    const parents: Array<[pid: string, parent: string]> = [];
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = readText(`/proc/${pid}/stat`);
      if (!stat) continue;
      // The command name in stat is in parentheses and may contain spaces; the parent pid follows it.
      const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      parents.push([pid, parent]);
      if (!stat.includes('(sshd)')) continue;
      const title = readText(`/proc/${pid}/cmdline`)?.replace(/\0/g, ' ').trim() ?? '';
      let host: string | undefined;
      try {
        host = this.hostByNetns.get(readlinkSync(`/proc/${pid}/ns/net`));
      } catch {
        continue;
      }
      if (!host) continue;
      const counts = perHost.get(host) ?? { connections: 0, sessions: 0, unauthenticated: 0 };
      perHost.set(host, counts);
      // OpenSSH titles its per-connection processes: "sshd: USER@notty" once authenticated,
      // "sshd: USER [priv]" for the monitor, "[net]" or "[preauth]" before authentication.
      if (/^sshd: \S+@/.test(title)) {
        counts.connections++;
        userProcesses.set(pid, host);
      } else if (/\[(net|preauth)\]$/.test(title)) {
        counts.unauthenticated++;
      }
    }
    for (const [, parent] of parents) {
      const host = userProcesses.get(parent);
      if (host) (perHost.get(host) as { sessions: number }).sessions++;
    }
    for (const counts of perHost.values()) {
      this.peaks.connections = Math.max(this.peaks.connections, counts.connections);
      this.peaks.sessions = Math.max(this.peaks.sessions, counts.sessions);
      this.peaks.unauthenticated = Math.max(this.peaks.unauthenticated, counts.unauthenticated);
    }
    this.peaks.samples++;
    this.loadTotal += Number(readText('/proc/loadavg')?.split(' ')[0] ?? 0);
  }
}
