/**
 * Prerequisites of `up` on the machine: the Debian packages a host runs (OpenSSH, etcd, sudo,
 * iproute2...) and the stand-in binaries built from sandbox/standins.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { standinBinDir } from './names.js';
import { defaultEnv, describeFailure, run, runChecked } from './run.js';

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

/** Runs sandbox/standins/build.sh (fast when nothing changed), then checks that the systemd stand-in exists. */
export async function ensureStandins(repoRoot: string, log: (line: string) => void): Promise<void> {
  const buildScript = path.join(repoRoot, 'sandbox', 'standins', 'build.sh');
  if (!fs.existsSync(buildScript)) {
    throw new Error(`build stand-ins: ${buildScript} not found; pass the kboot repository as repoRoot`);
  }
  log(`building stand-ins: ${buildScript}`);
  // The build needs the caller's environment (Go toolchain on PATH, GOPATH, module cache).
  const result = await run(['bash', buildScript], { timeoutMs: BUILD_TIMEOUT_MS, env: { ...process.env } });
  if (result.exitCode !== 0 || result.timedOut) {
    throw new Error(`build stand-ins: bash ${buildScript} ${describeFailure(result)}; fix the build, then run up again`);
  }
  requireSystemdStandin();
}

/** Returns the path of the systemd stand-in, which every host runs as PID 1; throws when it is not built. */
export function requireSystemdStandin(): string {
  const systemd = path.join(standinBinDir(), 'systemd');
  try {
    fs.accessSync(systemd, fs.constants.X_OK);
  } catch {
    throw new Error(`systemd stand-in ${systemd} not found or not executable: run bash sandbox/standins/build.sh`);
  }
  return systemd;
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
