/**
 * The stand-ins' event log of a host (/var/log/kboot-sandbox/events.log): one line per package
 * install, unit start and unit stop, which tests count to prove what ran and how often.
 */
import { hostExec } from './exec.js';
import { describeFailure } from './run.js';

export const EVENTS_LOG = '/var/log/kboot-sandbox/events.log';

export interface SandboxEvent {
  /** RFC 3339 time as written by the stand-in. */
  time: string;
  /** `install`, `start` or `stop`; other words are kept as written. */
  kind: string;
  /** Package or unit name. */
  name: string;
}

export interface HostEvents {
  events: SandboxEvent[];
  /** Number of events per kind and name: counts.start['etcd.service'] === 1. */
  counts: Record<string, Record<string, number>>;
  /** Lines that do not read `<time> <kind> <name>`, kept so a test can show them. */
  malformed: string[];
}

/** Parses events.log text; see HostEvents. */
export function parseEvents(text: string): HostEvents {
  const events: SandboxEvent[] = [];
  const malformed: string[] = [];
  const counts: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const match = /^(\S+)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (match === null || Number.isNaN(Date.parse(match[1]!))) {
      malformed.push(line);
      continue;
    }
    const event = { time: match[1]!, kind: match[2]!, name: match[3]! };
    events.push(event);
    const perKind = (counts[event.kind] ??= {});
    perKind[event.name] = (perKind[event.name] ?? 0) + 1;
  }
  return { events, counts, malformed };
}

/** Reads and parses a host's events.log; a host where nothing ran yet has no events. */
export async function readEvents(fleet: string, host: string, options: { root?: string } = {}): Promise<HostEvents> {
  const result = await hostExec(fleet, host, ['cat', EVENTS_LOG], { timeoutMs: 10_000, root: options.root });
  if (result.exitCode !== 0) {
    if (/No such file or directory/.test(result.stderr)) return parseEvents('');
    throw new Error(`read ${EVENTS_LOG} on ${host}: ${describeFailure(result)}`);
  }
  return parseEvents(result.stdout);
}
