/**
 * Replays saved workflow histories against workflow code, to prove before a deploy that running
 * rollouts can continue on it. Exits 1 naming each history the code cannot replay.
 *
 *   node dist/worker/replay.js [--workflows FILE] HISTORY.json...
 *
 * FILE is a workflows module (.ts or .js) to bundle; the default is the built workflow bundle.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundleFor } from './bundle.js';

/** The workflow id a saved history belongs to: the file name less its `<label>-` prefix. */
export function workflowIdOf(file: string): string {
  return basename(file, '.json').replace(/^[a-z]+-(?=kboot-)/, '');
}

async function main(args: string[]): Promise<number> {
  let workflowsPath: string | undefined;
  const files: string[] = [];
  for (let index = 0; index < args.length; index++) {
    if (args[index] === '--workflows') workflowsPath = args[++index];
    else files.push(args[index]);
  }
  if (files.length === 0) {
    process.stderr.write('usage: replay.js [--workflows FILE] HISTORY.json...\n');
    return 2;
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await workflowBundleFor(workflowsPath);
  let failures = 0;
  for (const file of files) {
    try {
      await Worker.runReplayHistory({ workflowBundle }, JSON.parse(readFileSync(file, 'utf8')), workflowIdOf(file));
      process.stdout.write(`replayed ${file}\n`);
    } catch (error) {
      failures++;
      process.stdout.write(`cannot replay ${file}: ${(error as Error).name}: ${(error as Error).message.split('\n')[0]}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`replay: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
