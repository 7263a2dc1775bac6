/**
 * What `up` needs on the machine before it creates hosts: the Debian packages a host runs (OpenSSH,
 * etcd, sudo, iproute2...) and the stand-in binaries built from sandbox/standins.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { InitMode } from './layout.js';
import { standinBinDir } from './names.js';
import { defaultEnv, runChecked } from './run.js';

/** A file each host needs, and the Debian package that ships it. */
const REQUIRED_FILES: ReadonlyArray<readonly [file: string, pkg: string]> = [
  ['/usr/sbin/sshd', 'openssh-server'],
  ['/usr/bin/ssh-keygen', 'openssh-client'],
  ['/usr/bin/ssh', 'openssh-client'],
  ['/usr/bin/etcd', 'etcd-server'],
  ['/usr/bin/etcdctl', 'etcd-client'],
  ['/usr/bin/sudo', 'sudo'],
  ['/usr/sbin/ip', 'iproute2'],
  ['/usr/sbin/tc', 'iproute2'],
  ['/usr/sbin/iptables', 'iptables'],
  ['/usr/bin/pkill', 'procps'],
  ['/usr/bin/nsenter', 'util-linux'],
  ['/usr/bin/unshare', 'util-linux'],
  ['/usr/sbin/useradd', 'passwd'],
];

const APT_TIMEOUT_MS = 10 * 60_000;
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** Returns the Debian packages whose files are missing. */
export function missingHostPackages(): string[] {
  const missing = new Set<string>();
  for (const [file, pkg] of REQUIRED_FILES) {
    if (!fs.existsSync(file)) missing.add(pkg);
  }
  return [...missing];
}

/** Installs the missing host packages with apt-get (one update, one install); does nothing when none is missing. */
export async function ensureHostPackages(log: (line: string) => void): Promise<void> {
  const missing = missingHostPackages();
  if (missing.length === 0) return;
  log(`installing host packages: ${missing.join(' ')}`);
  const env = { ...defaultEnv(), DEBIAN_FRONTEND: 'noninteractive' };
  await runChecked(['apt-get', 'update'], { timeoutMs: APT_TIMEOUT_MS, env });
  await runChecked(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { timeoutMs: APT_TIMEOUT_MS, env });
  const stillMissing = missingHostPackages();
  if (stillMissing.length > 0) {
    throw new Error(`install host packages: still missing after apt-get install: ${stillMissing.join(' ')}`);
  }
}

/**
 * Runs sandbox/standins/build.sh when the repository has it, then returns how hosts boot: `systemd` when
 * the systemd stand-in is built, else `sshd` (sshd as PID 1, without the stand-ins).
 */
export async function ensureStandins(repoRoot: string, log: (line: string) => void): Promise<InitMode> {
  const buildScript = path.join(repoRoot, 'sandbox', 'standins', 'build.sh');
  if (fs.existsSync(buildScript)) {
    log(`building stand-ins: ${buildScript}`);
    // The build needs the caller's environment (Go toolchain on PATH, GOPATH, module cache).
    await runChecked(['bash', buildScript], { timeoutMs: BUILD_TIMEOUT_MS, env: { ...process.env } });
  }
  const systemd = path.join(standinBinDir(), 'systemd');
  try {
    fs.accessSync(systemd, fs.constants.X_OK);
    return 'systemd';
  } catch {
    // NOTE: interim boot path, kept only until sandbox/standins/build.sh builds the systemd stand-in.
    log(`no systemd stand-in at ${systemd}: hosts boot with sshd as PID 1, without the stand-ins`);
    return 'sshd';
  }
}

/**
 * Finds the kboot repository root: the nearest directory at or above `start` whose package.json is
 * named "kboot". Throws when there is none.
 */
export function findRepoRoot(start: string): string {
  let dir = path.resolve(start);
  for (let depth = 0; depth < 64; depth++) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'kboot') return dir;
    } catch {
      // No package.json here, or not JSON: keep walking up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`find kboot repository: no package.json named "kboot" at or above ${start}; pass repoRoot`);
}

/** Returns `repoRoot`, or the repository holding the running script (process.argv[1]). */
export function resolveRepoRoot(repoRoot?: string): string {
  if (repoRoot !== undefined) return findRepoRoot(repoRoot);
  const script = process.argv[1];
  if (script === undefined) throw new Error('find kboot repository: no running script path; pass repoRoot');
  return findRepoRoot(path.dirname(fs.realpathSync(script)));
}
