/**
 * kboot against Ansible on the same sandbox fleet: `npm run bench` (bench/run.sh). For each fleet
 * size it runs the scenarios of scenarios.ts, then prints the ratios and whether each target is
 * met, and writes them as JSON.
 *
 *   node dist/bench/bench.js [--sizes 10,50] [--work-dir DIR]
 *
 * Needs TEMPORAL_ADDRESS (run.sh starts a dev server), root, and Debian's ansible-playbook.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { down } from '../sandbox/fleet/index.js';
import { renderReport, type SizeResult } from './report.js';
import { ansibleResume, ansibleRun, kbootResume, kbootRollout, type BenchContext } from './scenarios.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function parseArguments(argv: string[]): { sizes: number[]; workDir?: string } {
  let sizes = [10, 50];
  let workDir: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--sizes') {
      sizes = (argv[++index] ?? '').split(',').map(Number);
      if (sizes.length === 0 || sizes.some((size) => !Number.isInteger(size) || size < 3 || size > 240)) {
        throw new Error(`invalid --sizes ${argv[index]}: expected fleet sizes from 3 to 240, comma-separated, such as 10,50`);
      }
    } else if (argument === '--work-dir') {
      workDir = argv[++index];
      if (!workDir) throw new Error('--work-dir needs a folder');
    } else {
      throw new Error(`unknown argument ${argument}; usage: bench.js [--sizes 10,50] [--work-dir DIR]`);
    }
  }
  return { sizes, workDir };
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) throw new Error('TEMPORAL_ADDRESS is not set; run the benchmark through bench/run.sh, which starts a dev server');
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'kboot-bench-'));
  mkdirSync(workDir, { recursive: true });
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  log(`work folder ${workDir}`);

  const connection = await Connection.connect({ address: temporalAddress });
  const context: BenchContext = {
    repoRoot: REPO_ROOT,
    cli: join(REPO_ROOT, 'dist/client/cli.js'),
    ansibleDir: join(REPO_ROOT, 'bench/ansible'),
    workDir,
    client: new Client({ connection }),
    temporalAddress,
    log,
  };
  const results: SizeResult[] = [];
  // An interrupted run removes its fleets; the workers it started end with its process group.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: removing the benchmark's fleets`);
      void Promise.allSettled(options.sizes.map((hosts) => down(`bn${hosts}`))).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  try {
    for (const hosts of options.sizes) {
      const name = `bn${hosts}`;
      log(`${name}: ${hosts} hosts`);
      const kboot = await kbootRollout(context, name, hosts);
      const ansible = await ansibleRun(context, name, hosts);
      const kbootResumeFigures = await kbootResume(context, name, hosts);
      const ansibleResumeFigures = await ansibleResume(context, name, hosts);
      results.push({ hosts, kboot, ansible, kbootResume: kbootResumeFigures, ansibleResume: ansibleResumeFigures });
      await down(name);
    }
  } finally {
    await connection.close();
    for (const hosts of options.sizes) await down(`bn${hosts}`).catch((error: unknown) => log(`down bn${hosts} failed: ${(error as Error).message}`));
  }

  const machine = { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), cpu: cpus()[0]?.model ?? 'unknown' };
  const report = renderReport(results, machine);
  process.stdout.write(`${report}\n`);
  const jsonFile = join(workDir, 'results.json');
  writeFileSync(jsonFile, `${JSON.stringify({ machine, results }, null, 2)}\n`);
  log(`figures as JSON: ${jsonFile}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
