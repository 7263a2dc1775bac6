/**
 * A real OpenSSH sshd for the SSH layer's tests, on 127.0.0.1 and a free high port, in its own
 * mount namespace. There /run is a private tmpfs, because sshd needs /run/sshd. /etc/passwd,
 * /etc/group, /etc/shadow and /etc/sudoers can be replaced there without touching the machine's.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { SshEndpoint } from '../../activities/ssh/index.js';

export interface TestUser {
  name: string;
  uid: number;
}

export interface SshdOptions {
  /** Extra login users, added to a private copy of /etc/passwd and /etc/group. */
  users?: TestUser[];
  /** Content of a private /etc/sudoers. Without it, the machine's own applies. */
  sudoers?: string;
  /** Also serve an RSA host key, besides the Ed25519 one that known_hosts lists. */
  rsaHostKey?: boolean;
}

const STARTUP_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 50;

export class TestSshd {
  readonly dir: string;
  readonly clientKeyFile: string;
  readonly knownHostsFile: string;
  readonly logFile: string;
  port = 0;
  private process: ChildProcess | undefined;
  private logOffsetAtStart = 0;

  private constructor(private readonly options: SshdOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'kboot-ssh-test-'));
    // Test users read authorized_keys and their home under this directory.
    chmodSync(this.dir, 0o755);
    this.clientKeyFile = join(this.dir, 'client_key');
    this.knownHostsFile = join(this.dir, 'known_hosts');
    this.logFile = join(this.dir, 'sshd.log');
  }

  static async start(options: SshdOptions = {}): Promise<TestSshd> {
    const server = new TestSshd(options);
    server.port = await freePort();
    server.generateHostKey();
    if (options.rsaHostKey === true) {
      keygen(['-t', 'rsa', '-b', '2048', '-N', '', '-C', 'kboot-test-host', '-f', server.rsaHostKeyFile]);
    }
    keygen(['-t', 'ed25519', '-N', '', '-C', 'kboot-test-client', '-f', server.clientKeyFile]);
    writeFileSync(join(server.dir, 'authorized_keys'), readFileSync(`${server.clientKeyFile}.pub`), { mode: 0o644 });
    server.writeKnownHosts();
    server.writeConfig();
    server.writeAccountFiles();
    await server.launch();
    return server;
  }

  /** Returns an endpoint for this server that trusts its host key through known_hosts. */
  endpoint(overrides: Partial<SshEndpoint> = {}): SshEndpoint {
    return {
      host: 'node1',
      address: '127.0.0.1',
      port: this.port,
      user: 'root',
      privateKeyFile: this.clientKeyFile,
      knownHostsFile: this.knownHostsFile,
      sudo: false,
      connectTimeoutMs: 5000,
      ...overrides,
    };
  }

  /** SHA256 fingerprint of the current host key, as ssh-keygen -l prints it. */
  hostKeyFingerprint(): string {
    const line = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${this.hostKeyFile}.pub`], { encoding: 'utf8' });
    return line.split(' ')[1];
  }

  /** Number of logins since this sshd (or its last restart) started, from its log. */
  acceptedLogins(): number {
    return this.countLogLines('Accepted publickey for ');
  }

  /** Number of TCP connections since start, from its log. */
  tcpConnections(): number {
    return this.countLogLines('Connection from ');
  }

  /** Number of log lines since start (or the last restart) that begin with `prefix`. */
  countLogLines(prefix: string): number {
    return this.logSinceStart().split('\n').filter((line) => line.startsWith(prefix)).length;
  }

  /** Stops sshd and every session it serves, then starts it again on the same port. */
  async restart(options: { newHostKey?: boolean } = {}): Promise<void> {
    await this.stopProcesses();
    if (options.newHostKey === true) {
      rmSync(this.hostKeyFile);
      rmSync(`${this.hostKeyFile}.pub`);
      this.generateHostKey();
    }
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.stopProcesses();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Path of the RSA host key's public half, when the server has one. */
  get rsaHostPublicKeyFile(): string {
    return `${this.rsaHostKeyFile}.pub`;
  }

  private get hostKeyFile(): string {
    return join(this.dir, 'host_ed25519_key');
  }

  private get rsaHostKeyFile(): string {
    return join(this.dir, 'host_rsa_key');
  }

  private generateHostKey(): void {
    keygen(['-t', 'ed25519', '-N', '', '-C', 'kboot-test-host', '-f', this.hostKeyFile]);
  }

  private writeKnownHosts(): void {
    const [keyType, keyBase64] = readFileSync(`${this.hostKeyFile}.pub`, 'utf8').split(' ');
    writeFileSync(this.knownHostsFile, `[127.0.0.1]:${this.port} ${keyType} ${keyBase64}\n`);
  }

  private writeConfig(): void {
    const config = [
      `Port ${this.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${this.hostKeyFile}`,
      ...(this.options.rsaHostKey === true ? [`HostKey ${this.rsaHostKeyFile}`] : []),
      `PidFile ${join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'AllowTcpForwarding yes',
      'LogLevel VERBOSE',
      '',
    ].join('\n');
    writeFileSync(join(this.dir, 'sshd_config'), config);
  }

  private writeAccountFiles(): void {
    const users = this.options.users ?? [];
    if (users.length > 0) {
      const home = join(this.dir, 'home');
      mkdirSync(home, { mode: 0o777 });
      chmodSync(home, 0o777);
      const passwd = users.map((user) => `${user.name}:x:${user.uid}:${user.uid}::${home}:/bin/bash`).join('\n');
      const group = users.map((user) => `${user.name}:x:${user.uid}:`).join('\n');
      writeFileSync(join(this.dir, 'passwd'), `${readFileSync('/etc/passwd', 'utf8').trimEnd()}\n${passwd}\n`, { mode: 0o644 });
      writeFileSync(join(this.dir, 'group'), `${readFileSync('/etc/group', 'utf8').trimEnd()}\n${group}\n`, { mode: 0o644 });
      // Only the test users, with no password: PAM's account check in sudo needs an entry.
      const shadow = users.map((user) => `${user.name}:*:19000:0:99999:7:::`).join('\n');
      writeFileSync(join(this.dir, 'shadow'), `${shadow}\n`, { mode: 0o640 });
    }
    if (this.options.sudoers !== undefined) {
      writeFileSync(join(this.dir, 'sudoers'), this.options.sudoers, { mode: 0o440 });
      chmodSync(join(this.dir, 'sudoers'), 0o440);
    }
  }

  private async launch(): Promise<void> {
    const mounts = ['mount -t tmpfs -o mode=755 tmpfs /run', 'mkdir -m 755 /run/sshd'];
    if ((this.options.users ?? []).length > 0) {
      mounts.push(
        `mount --bind ${this.dir}/passwd /etc/passwd`,
        `mount --bind ${this.dir}/group /etc/group`,
        `mount --bind ${this.dir}/shadow /etc/shadow`,
      );
    }
    if (this.options.sudoers !== undefined) {
      mounts.push(`mount --bind ${this.dir}/sudoers /etc/sudoers`);
    }
    const script = `${mounts.join(' && ')} && exec /usr/sbin/sshd -D -e -f ${this.dir}/sshd_config`;

    this.logOffsetAtStart = safeLength(this.logFile);
    const logFd = openSync(this.logFile, 'a');
    this.process = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (!this.logSinceStart().includes(`Server listening on 127.0.0.1 port ${this.port}`)) {
      if (Date.now() > deadline || this.process.exitCode !== null) {
        throw new Error(`start sshd on port ${this.port}: not listening after ${STARTUP_TIMEOUT_MS} ms; log:\n${this.logSinceStart()}`);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  private logSinceStart(): string {
    return readFileSync(this.logFile, 'utf8').slice(this.logOffsetAtStart);
  }

  /** Kills sshd and all its descendants (per-connection sshd processes and their sessions). */
  private async stopProcesses(): Promise<void> {
    const child = this.process;
    if (child?.pid === undefined || child.exitCode !== null) {
      return;
    }
    const victims = [child.pid, ...descendantsOf(child.pid)];
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
    this.process = undefined;
  }
}

/** Returns the pids below `root` in the process tree, from /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name in parentheses may contain spaces; the parent pid follows the state.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Tells whether a process exists (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `condition` every 50 ms until it is true or `timeoutMs` passes, and returns its last value. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(POLL_INTERVAL_MS);
  }
  return condition();
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function keygen(args: string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
}

function safeLength(file: string): number {
  try {
    return readFileSync(file, 'utf8').length;
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
