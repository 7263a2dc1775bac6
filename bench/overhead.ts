/**
 * kboot's orchestration overhead: its wall time over the critical path of the raw commands. The
 * time of each command is read from the rollout's own histories: from the start of a step's or
 * gate's last activity attempt to its completion, which covers the SSH round trip and the script
 * on the host. The critical path is the longest chain of those times through the plan's graph.
 */
import type { Client } from '@temporalio/client';
import type { Plan } from '../plan/index.js';

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

interface Timestamp {
  seconds?: { toNumber(): number } | number | string | null;
  nanos?: number | null;
}

function milliseconds(time: Timestamp | null | undefined): number {
  const seconds = time?.seconds;
  const whole = typeof seconds === 'object' && seconds !== null ? seconds.toNumber() : Number(seconds ?? 0);
  return whole * 1000 + (time?.nanos ?? 0) / 1e6;
}

function decodeFirst(payloads: { data?: Uint8Array | null }[] | null | undefined): unknown {
  const data = payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

/** Seconds from the start of each activity's last attempt to its completion, by scheduled event id. */
function activityTimes(events: HistoryEvent[]): Array<{ input: unknown; seconds: number }> {
  const scheduled = new Map<string, unknown>();
  const started = new Map<string, number>();
  const times: Array<{ input: unknown; seconds: number }> = [];
  for (const event of events) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes) scheduled.set(id, decodeFirst(event.activityTaskScheduledEventAttributes.input?.payloads));
    const start = event.activityTaskStartedEventAttributes;
    if (start) started.set(String(start.scheduledEventId), milliseconds(event.eventTime));
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      const key = String(done.scheduledEventId);
      const from = started.get(key);
      if (from !== undefined) times.push({ input: scheduled.get(key), seconds: (milliseconds(event.eventTime) - from) / 1000 });
    }
  }
  return times;
}

/** Every run of the rollout, following continue-as-new back from the latest run. */
async function rolloutHistories(client: Client, workflowId: string): Promise<History[]> {
  const histories: History[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  // A rollout continues as new a bounded number of times; 1000 runs would mean a runaway loop.
  while (runId && histories.length < 1000) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.push(history);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return histories.reverse();
}

export interface RolloutTimes {
  /** The time of each plan task's commands, keyed by task id (`step@host`, `gate:<id>`). */
  tasks: Map<string, number>;
  /** From the first event of the rollout's first run to the last event of its last run. */
  workflowSeconds: number;
  /** For each host run, the time from its start command to the server starting it. */
  childStartSeconds: number[];
  /**
   * For each wave of host runs (named by their first step: preflight, flanneld, master, node),
   * the time from the first run's start to the last one's.
   */
  waveSpreadSeconds: Record<string, number>;
}

/** Reads the rollout's histories and those of its host runs. */
export async function rolloutTimes(client: Client, workflowId: string): Promise<RolloutTimes> {
  const tasks = new Map<string, number>();
  const childStartSeconds: number[] = [];
  const waves = new Map<string, number[]>();
  const histories = await rolloutHistories(client, workflowId);
  for (const history of histories) {
    const events = history.events ?? [];
    for (const { input, seconds } of activityTimes(events)) {
      const gate = (input as { gate?: string } | undefined)?.gate;
      if (gate) tasks.set(`gate:${gate}`, seconds);
    }
    const initiated = new Map<string, number>();
    for (const event of events) {
      if (event.startChildWorkflowExecutionInitiatedEventAttributes) initiated.set(String(event.eventId), milliseconds(event.eventTime));
      const started = event.childWorkflowExecutionStartedEventAttributes;
      const execution = started?.workflowExecution;
      if (!started || !execution?.workflowId || !execution.runId) continue;
      const from = initiated.get(String(started.initiatedEventId));
      if (from !== undefined) childStartSeconds.push((milliseconds(event.eventTime) - from) / 1000);
      const firstStep = execution.workflowId.split('-').pop() as string;
      waves.set(firstStep, [...(waves.get(firstStep) ?? []), milliseconds(event.eventTime)]);
      const child = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      for (const { input, seconds } of activityTimes(child.events ?? [])) {
        const rendering = (input as { rendering?: { step: string; host: string } } | undefined)?.rendering;
        if (rendering) tasks.set(`${rendering.step}@${rendering.host}`, seconds);
      }
    }
  }
  const first = histories[0]?.events ?? [];
  const last = histories[histories.length - 1]?.events ?? [];
  const workflowSeconds = (milliseconds(last[last.length - 1]?.eventTime) - milliseconds(first[0]?.eventTime)) / 1000;
  const waveSpreadSeconds = Object.fromEntries([...waves].map(([step, times]) => [step, (Math.max(...times) - Math.min(...times)) / 1000]));
  return { tasks, workflowSeconds, childStartSeconds, waveSpreadSeconds };
}

/**
 * The longest chain of task times through the plan: each task starts when everything it needs
 * has finished. Throws when a task of the plan has no time, because the path would be too short.
 */
export function criticalPath(plan: Plan, times: Map<string, number>): { seconds: number; path: string[] } {
  const tasks = new Map(plan.tasks.map((task) => [task.id, task]));
  const finish = new Map<string, { seconds: number; path: string[] }>();
  const visit = (id: string): { seconds: number; path: string[] } => {
    const known = finish.get(id);
    if (known) return known;
    const task = tasks.get(id);
    const own = times.get(id);
    if (!task || own === undefined) throw new Error(`critical path: no command time for task ${id}; did the rollout run it?`);
    const before = task.needs.map(visit).reduce((longest, candidate) => (candidate.seconds > longest.seconds ? candidate : longest), { seconds: 0, path: [] as string[] });
    const result = { seconds: before.seconds + own, path: [...before.path, id] };
    finish.set(id, result);
    return result;
  };
  return plan.tasks.map((task) => visit(task.id)).reduce((longest, candidate) => (candidate.seconds > longest.seconds ? candidate : longest));
}
