/**
 * Debian's chromium, headless, driven by playwright-core. It starts with a fresh profile and with
 * every background service off, and it resolves no name but 127.0.0.1, so it contacts nothing
 * but the local web UI. Every request it makes is recorded for the test to check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Browser {
  page: Page;
  /** URLs of every request the page sent, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function launchBrowser(viewport: { width: number; height: number }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'kboot-ui-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport,
      timeout: 60_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-extensions',
        // Any name other than the loopback address fails to resolve, so nothing can leave the machine.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`chromium at ${CHROMIUM} did not start: ${(error as Error).message}; install it with scripts/ensure-deps.sh`);
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  return {
    page,
    requests,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
