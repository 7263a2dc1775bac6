#!/usr/bin/env node
/**
 * Command line of the sandbox fleet: node dist/sandbox/fleet/cli.js up|down|status|exec|events|fault.
 * Progress goes to stderr; results (the spec path, status, command output) go to stdout.
 *
 * Exit codes are 0 for success, 1 for failure and 2 for invalid usage. `exec` exits with the command's
 * own code, 124 when it timed out, or 128+N when signal N ended it.
 */
import { constants as osConstants } from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';

import { down } from './down.js';
import { readEvents } from './events.js';
import { hostExec } from './exec.js';
import {
  changeHostKey,
  cutLink,
  fillDisk,
  freeDisk,
  restoreLink,
  slowLink,
  startSshd,
  stopSshd,
  throttleLink,
} from './faults.js';
import { InvalidFleetArgumentError } from './names.js';
import { status, type FleetStatus } from './status.js';
import { up } from './up.js';

const DEFAULT_FLEET = 'sandbox';

const logProgress = (line: string) => process.stderr.write(`${line}\n`);

function parseInteger(label: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${label} must be an integer from ${min} to ${max}.`);
    }
    return parsed;
  };
}

interface CommonOptions {
  name: string;
  root?: string;
}

function addCommonOptions(command: Command): Command {
  return command
    .option('--name <fleet>', 'fleet name', DEFAULT_FLEET)
    .option('--root <dir>', 'sandbox root (default: $KBOOT_SANDBOX_ROOT or /srv/kboot-sandbox)');
}

function printStatus(fleet: FleetStatus): void {
  if (!fleet.exists) {
    process.stdout.write(`fleet ${fleet.name}: not found under ${fleet.root}\n`);
    return;
  }
  process.stdout.write(
    `fleet ${fleet.name}: ${fleet.state}, index ${fleet.index}, bridge ${fleet.bridgeUp ? 'up' : 'missing'}\n`,
  );
  const rows = [['HOST', 'ADDRESS', 'ROLES', 'PID1', 'LINK', 'SSH']];
  for (const host of fleet.hosts) {
    rows.push([
      host.name,
      host.address,
      host.roles.join(','),
      host.initPid === null ? 'stopped' : String(host.initPid),
      host.link,
      host.sshPortOpen ? 'open' : 'closed',
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) {
    process.stdout.write(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd() + '\n');
  }
}

function buildProgram(): Command {
  const program = new Command('sandbox-fleet')
    .description('Create, inspect and break the local sandbox hosts that kboot rolls clusters out on.')
    .exitOverride()
    .showHelpAfterError();

  addCommonOptions(program.command('up'))
    .description('create the fleet, wait until every host accepts SSH, and print the path of its cluster spec')
    .option('--hosts <count>', 'number of hosts (host 1 is master, the rest node1..)', parseInteger('--hosts', 1, 240), 4)
    .option('--index <index>', 'fleet index: bridge kbbr<index>, addresses 198.18.<index>.0/24 (default: 1 for the fleet "sandbox", else the lowest free from 2)', parseInteger('--index', 1, 200))
    .option('--disk-mib <size>', "size of each host's disk in MiB", parseInteger('--disk-mib', 64, 65536), 1024)
    .option('--concurrency <count>', 'hosts booted at once', parseInteger('--concurrency', 1, 64), 8)
    .action(async (options: CommonOptions & { hosts: number; index?: number; diskMib: number; concurrency: number }) => {
      const result = await up({
        name: options.name,
        hosts: options.hosts,
        index: options.index,
        root: options.root,
        diskMiB: options.diskMib,
        concurrency: options.concurrency,
        log: logProgress,
      });
      logProgress(
        result.created
          ? `${result.name}: up with ${result.hosts.length} hosts; cluster spec:`
          : `${result.name}: already up with ${result.hosts.length} hosts; cluster spec:`,
      );
      process.stdout.write(`${result.specFile}\n`);
    });

  addCommonOptions(program.command('down'))
    .description('remove the fleet: host processes, namespaces, links, mounts and state (safe to repeat)')
    .action(async (options: CommonOptions) => {
      const result = await down(options.name, { root: options.root, log: logProgress });
      logProgress(
        result.removedNetns.length === 0 && !result.removedBridge
          ? `${result.name}: nothing left to remove`
          : `${result.name}: removed ${result.removedNetns.length} hosts${result.removedBridge ? ' and the bridge' : ''}`,
      );
    });

  addCommonOptions(program.command('status'))
    .description('show each host: PID 1, link state, sshd port')
    .option('--json', 'print JSON')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      const fleet = await status(options.name, { root: options.root });
      if (options.json) process.stdout.write(JSON.stringify(fleet, null, 2) + '\n');
      else printStatus(fleet);
      if (!fleet.exists) process.exitCode = 1;
    });

  addCommonOptions(program.command('exec'))
    .description('run a command as root inside a host (through nsenter, not SSH): exec HOST -- CMD...')
    .argument('<host>', 'host name')
    .argument('<command...>', 'command and arguments')
    .option('--timeout <seconds>', 'kill the command after this many seconds', parseInteger('--timeout', 1, 86_400), 600)
    .option('--stdin', 'pass this process stdin to the command')
    .action(async (host: string, argv: string[], options: CommonOptions & { timeout: number; stdin?: boolean }) => {
      const input = options.stdin ? await readStdin() : undefined;
      const result = await hostExec(options.name, host, argv, { timeoutMs: options.timeout * 1000, input, root: options.root });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      if (result.timedOut) {
        logProgress(`exec on ${host}: timed out after ${options.timeout} s`);
        process.exitCode = 124;
      } else if (result.signal !== null) {
        process.exitCode = 128 + (osConstants.signals[result.signal] ?? 0);
      } else {
        process.exitCode = result.exitCode ?? 1;
      }
    });

  addCommonOptions(program.command('events'))
    .description("print a host's stand-in events (install, start, stop) and their counts")
    .argument('<host>', 'host name')
    .option('--json', 'print JSON')
    .action(async (host: string, options: CommonOptions & { json?: boolean }) => {
      const events = await readEvents(options.name, host, { root: options.root });
      if (options.json) {
        process.stdout.write(JSON.stringify(events, null, 2) + '\n');
        return;
      }
      for (const [kind, names] of Object.entries(events.counts)) {
        for (const [name, count] of Object.entries(names)) process.stdout.write(`${kind} ${name} ${count}\n`);
      }
    });

  const fault = program.command('fault').description('inject a fault into one host, or repair it');
  const faultCommand = (name: string, description: string) => addCommonOptions(fault.command(name)).description(description).argument('<host>', 'host name');

  faultCommand('cut-link', "take the host's link down: SSH to it times out").action(async (host: string, options: CommonOptions) => {
    await cutLink(options.name, host, { root: options.root });
  });
  faultCommand('restore-link', 'bring the link back up and remove delays and rate limits').action(async (host: string, options: CommonOptions) => {
    await restoreLink(options.name, host, { root: options.root });
  });
  faultCommand('slow-link', 'delay packets in each direction (tc netem; 0 removes)')
    .argument('<delay-ms>', 'delay in milliseconds', parseInteger('delay', 0, 60_000))
    .action(async (host: string, delayMs: number, options: CommonOptions) => {
      await slowLink(options.name, host, delayMs, { root: options.root });
    });
  faultCommand('throttle-link', 'limit the link rate in each direction (tc tbf; 0 removes)')
    .argument('<rate-kbit>', 'rate in kbit/s', parseInteger('rate', 0, 10_000_000))
    .action(async (host: string, rateKbit: number, options: CommonOptions) => {
      await throttleLink(options.name, host, rateKbit, { root: options.root });
    });
  faultCommand('stop-sshd', 'stop sshd.service on the host').action(async (host: string, options: CommonOptions) => {
    await stopSshd(options.name, host, { root: options.root });
  });
  faultCommand('start-sshd', 'start sshd.service on the host').action(async (host: string, options: CommonOptions) => {
    await startSshd(options.name, host, { root: options.root });
  });
  faultCommand('fill-disk', "fill the host's disk from a directory until ENOSPC")
    .argument('<dir>', 'absolute directory on the host, e.g. /var/lib/etcd')
    .action(async (host: string, dir: string, options: CommonOptions) => {
      const bytes = await fillDisk(options.name, host, dir, { root: options.root });
      logProgress(`${host}: wrote ${bytes} bytes into ${dir}; the disk is full`);
    });
  faultCommand('free-disk', 'remove the file fill-disk wrote')
    .argument('<dir>', 'the directory given to fill-disk')
    .action(async (host: string, dir: string, options: CommonOptions) => {
      await freeDisk(options.name, host, dir, { root: options.root });
    });
  faultCommand('change-host-key', 'give the host new SSH host keys and restart sshd')
    .option('--update-known-hosts', "also write the new keys into the fleet's known_hosts")
    .action(async (host: string, options: CommonOptions & { updateKnownHosts?: boolean }) => {
      const lines = await changeHostKey(options.name, host, { root: options.root, updateKnownHosts: options.updateKnownHosts });
      process.stdout.write(lines.join('\n') + '\n');
    });

  return program;
}

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

async function main(): Promise<void> {
  // A reader that closes early (status | head) is not an error of this command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`sandbox-fleet: ${(error as Error).message}\n`);
    process.exitCode = error instanceof InvalidFleetArgumentError || error instanceof RangeError ? 2 : 1;
  }
}

void main();
