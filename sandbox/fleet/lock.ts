/**
 * A per-fleet lock file, so that an `up` and a `down` of the same fleet never interleave.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { processAlive } from './boot.js';

/** Thrown when another live process holds the fleet's lock. */
export class FleetLockedError extends Error {
  override name = 'FleetLockedError';
}

/**
 * Runs `fn` while holding `<root>/<fleet>.lock`. A lock left by a process that no longer runs is taken
 * over; a live holder makes this throw at once instead of waiting.
 */
export async function withFleetLock<T>(root: string, fleet: string, fn: () => Promise<T>): Promise<T> {
  const lockFile = acquireLock(root, fleet);
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

function acquireLock(root: string, fleet: string): string {
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const lockFile = path.join(root, `${fleet}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
    if (Number.isInteger(holder) && processAlive(holder)) {
      throw new FleetLockedError(
        `fleet ${fleet} is locked by pid ${holder} (another up or down); wait for it to finish, or remove ${lockFile} if that process is not kboot`,
      );
    }
    fs.rmSync(lockFile, { force: true });
  }
  throw new FleetLockedError(`fleet ${fleet}: could not take ${lockFile}; remove it and retry`);
}
