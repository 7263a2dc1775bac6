// Checks the Temporal dev server that scripts/test.sh starts: it serves on
// TEMPORAL_ADDRESS, has kboot's search attributes, serves the web UI on KBOOT_UI_URL,
// and has no connection to anything but loopback.
import { execFileSync } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run the tests with scripts/test.sh, which starts the dev server and sets it`);
  }
  return value;
}

const address = requireEnv('TEMPORAL_ADDRESS');
const uiUrl = requireEnv('KBOOT_UI_URL');
const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';

const expectedSearchAttributes: Record<string, SearchAttributeType> = {
  KbootCluster: SearchAttributeType.KEYWORD,
  KbootPhase: SearchAttributeType.KEYWORD,
  KbootFailedHosts: SearchAttributeType.INT,
  KbootVersion: SearchAttributeType.KEYWORD,
};

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  return bare.startsWith('127.') || bare === '::1' || bare.startsWith('::ffff:127.');
}

/** Splits an ss address column ("127.0.0.1:7633", "[::1]:80", "*:*") into host and port. */
function splitAddress(column: string): { host: string; port: string } {
  const colon = column.lastIndexOf(':');
  return { host: column.slice(0, colon), port: column.slice(colon + 1) };
}

/** Returns the pid of the process listening on a local TCP port, from `ss -ltnp`. */
function listenerPid(port: string): number {
  const output = execFileSync('ss', ['-Hltnp', `( sport = :${port} )`], { encoding: 'utf8' });
  const match = /pid=(\d+),/.exec(output);
  if (!match) {
    throw new Error(`no process listens on port ${port} (ss output: ${JSON.stringify(output)})`);
  }
  return Number(match[1]);
}

describe('Temporal dev server', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address, connectTimeout: '10s' });
  });

  afterAll(async () => {
    await connection?.close();
  });

  test('frontend serves on TEMPORAL_ADDRESS', async () => {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('kboot search attributes registered with types', async () => {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    const registered = response.customAttributes ?? {};
    for (const [name, type] of Object.entries(expectedSearchAttributes)) {
      expect({ name, type: registered[name] }).toEqual({
        name,
        type: encodeSearchAttributeIndexedValueType(type),
      });
    }
  });

  test('web UI serves on KBOOT_UI_URL', async () => {
    const response = await fetch(uiUrl, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
  });

  test('server sockets stay on loopback', () => {
    const { host, port } = splitAddress(address);
    expect(isLoopback(host)).toBe(true);

    const pid = listenerPid(port);
    const sockets = execFileSync('ss', ['-Htunap'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`));
    expect(sockets.length).toBeGreaterThan(0);

    // Columns: netid, state, recv-q, send-q, local address, peer address, process.
    const offLoopback = sockets.filter((line) => {
      const [, , , , local, peer] = line.trim().split(/\s+/);
      const peerAddress = splitAddress(peer);
      const peerIsSet = peerAddress.port !== '*';
      return !isLoopback(splitAddress(local).host) || (peerIsSet && !isLoopback(peerAddress.host));
    });
    expect(offLoopback).toEqual([]);
  });
});
