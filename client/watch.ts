/**
 * The live view that `kboot apply` and `kboot status --watch` draw while they follow a rollout:
 * a redrawn frame on a terminal, one line per change when the output is a pipe or a file, or one
 * JSON document per change for scripts.
 */
import type { WriteStream } from 'node:tty';
import { createLogUpdate } from 'log-update';
import type { RolloutSnapshot } from './progress.js';
import { statusDocument } from './progress.js';
import { renderChanges, renderProgress } from './render.js';

export type ViewMode = 'terminal' | 'lines' | 'json';

export interface ProgressView {
  /** Shows the newest snapshot; called about once a second, so elapsed times tick. */
  show(snapshot: RolloutSnapshot): void;
  /** Shows a passing condition, such as Temporal being unreachable, until the next snapshot. */
  notice(message: string): void;
  /** Leaves the last frame on the screen and gives the cursor back. */
  close(): void;
}

export function viewMode(options: { json: boolean; stream: NodeJS.WriteStream }): ViewMode {
  if (options.json) return 'json';
  return options.stream.isTTY ? 'terminal' : 'lines';
}

function terminalView(stream: NodeJS.WriteStream): ProgressView {
  const draw = createLogUpdate(stream);
  const tty = stream as WriteStream;
  let last: RolloutSnapshot | undefined;
  let pending: string | undefined;
  const render = (): void => {
    if (!last?.state) {
      draw(`waiting for the rollout of ${last?.cluster ?? 'the cluster'} to report its state${pending ? `\n${pending}` : ''}`);
      return;
    }
    draw(renderProgress(last.cluster, last.state, Date.now(), { columns: tty.columns, rows: tty.rows }, pending).join('\n'));
  };
  return {
    show(snapshot) {
      last = snapshot;
      pending = undefined;
      render();
    },
    notice(message) {
      pending = message;
      render();
    },
    close() {
      draw.done();
    },
  };
}

function linesView(stream: NodeJS.WriteStream): ProgressView {
  let previous: RolloutSnapshot | undefined;
  return {
    show(snapshot) {
      if (!previous) stream.write(`following rollout ${snapshot.cluster} (workflow ${snapshot.workflowId}): ${snapshot.state?.phase ?? snapshot.execution}\n`);
      if (snapshot.state) {
        for (const line of renderChanges(previous?.state, snapshot.state)) stream.write(`${line}\n`);
      }
      previous = snapshot;
    },
    notice(message) {
      process.stderr.write(`${message}\n`);
    },
    close() {},
  };
}

/** Writes one compact JSON document per line, and only when the rollout's state changed. */
function jsonView(stream: NodeJS.WriteStream): ProgressView {
  let previousState: string | undefined;
  return {
    show(snapshot) {
      const state = JSON.stringify([snapshot.execution, snapshot.state]);
      if (state === previousState) return;
      previousState = state;
      stream.write(`${JSON.stringify(statusDocument(snapshot, Date.now()))}\n`);
    },
    notice(message) {
      process.stderr.write(`${message}\n`);
    },
    close() {},
  };
}

export function createProgressView(mode: ViewMode, stream: NodeJS.WriteStream = process.stdout): ProgressView {
  if (mode === 'terminal') return terminalView(stream);
  if (mode === 'json') return jsonView(stream);
  return linesView(stream);
}
