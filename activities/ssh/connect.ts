import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';

// ssh2 is CommonJS: Node's ES module loader exposes only its default export.
import ssh2 from 'ssh2';
import type { Client, ConnectConfig, ParsedKey } from 'ssh2';

import type { ConnectionTarget } from './endpoint.js';
import { SshConnectError, SshError } from './errors.js';
import type { ConnectFailureReason } from './errors.js';
import type { HostKeyVerdict } from './hostKeys.js';
import { hostKeyError, judgeHostKey, loadHostTrust, preferredHostKeyAlgorithms } from './hostKeys.js';

/** Keepalive settings shared by every connection of a pool. */
export interface KeepaliveSettings {
  intervalMs: number;
  countMax: number;
}

/**
 * Opens an authenticated ssh2 connection to `target`, over `tunnel` when it goes through a bastion.
 * Rejects with SshConnectError, HostKeyUnknownError or HostKeyMismatchError; the returned client
 * is ready for channels and has an `error` listener, so a later failure only closes it.
 */
export async function openClient(
  target: ConnectionTarget,
  keepalive: KeepaliveSettings,
  tunnel?: { stream: Duplex; bastion: string },
): Promise<Client> {
  const trust = await loadHostTrust(target);
  const { keyData, passphrase } = await loadPrivateKey(target);

  const client = new ssh2.Client();
  let verdict: HostKeyVerdict | undefined;

  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    privateKey: keyData,
    passphrase,
    readyTimeout: target.connectTimeoutMs,
    keepaliveInterval: keepalive.intervalMs,
    keepaliveCountMax: keepalive.countMax,
    hostVerifier: (key: Buffer): boolean => {
      verdict = judgeHostKey(trust, key);
      return verdict.kind === 'trusted';
    },
    sock: tunnel?.stream,
  };
  const algorithms = preferredHostKeyAlgorithms(trust);
  if (algorithms !== undefined) {
    config.algorithms = { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
  }

  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const fail = (error: SshError): void => {
      if (settled) {
        return;
      }
      settled = true;
      client.end();
      reject(error);
    };

    client.on('ready', () => {
      settled = true;
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (verdict !== undefined && verdict.kind !== 'trusted') {
        fail(hostKeyError(target, trust, verdict));
        return;
      }
      const [reason, detail] = classifyConnectFailure(target, error);
      fail(new SshConnectError(target, reason, withBastion(detail, tunnel?.bastion), error));
    });
    client.on('close', () => {
      fail(new SshConnectError(target, 'closed', withBastion('connection closed during the handshake', tunnel?.bastion)));
    });

    try {
      client.connect(config);
    } catch (error) {
      fail(new SshConnectError(target, 'config', `invalid connection settings: ${(error as Error).message}`, error));
    }
  });
}

function withBastion(detail: string, bastion: string | undefined): string {
  return bastion === undefined ? detail : `${detail} (through bastion ${bastion})`;
}

function classifyConnectFailure(
  target: ConnectionTarget,
  error: Error & { level?: string; code?: string },
): [ConnectFailureReason, string] {
  switch (error.code) {
    case 'ECONNREFUSED':
      return ['refused', 'connection refused; check that sshd runs and listens on that port'];
    case 'ETIMEDOUT':
      return ['timed-out', 'TCP connect timed out'];
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return ['unreachable', `no route to host (${error.code})`];
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ['unreachable', `cannot resolve ${target.address} (${error.code})`];
    case 'ECONNRESET':
    case 'EPIPE':
      return ['closed', `connection reset by the host (${error.code})`];
    default:
      break;
  }
  if (error.level === 'client-timeout') {
    return ['timed-out', `timed out after ${target.connectTimeoutMs} ms waiting for the SSH handshake and login`];
  }
  if (error.level === 'client-authentication') {
    return [
      'auth-failed',
      `authentication failed for user ${target.user} with the configured private key; ` +
        `check that its public key is in that user's authorized_keys on the host`,
    ];
  }
  if (error.level === 'client-socket') {
    return ['closed', `socket error: ${error.message}`];
  }
  return ['protocol', `SSH handshake failed: ${error.message}`];
}

/**
 * Reads the private key and its passphrase, and checks that they parse, so that a bad key fails
 * with a clear message before any connection. Errors name the spec field rather than the path or
 * any of the file's content, so key material cannot reach workflow history through an error.
 */
async function loadPrivateKey(target: ConnectionTarget): Promise<{ keyData: Buffer; passphrase?: string }> {
  let keyData: Buffer;
  try {
    keyData = await readFile(target.privateKeyFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SshConnectError(
      target,
      'config',
      `cannot read the private key file set in privateKeyFile (${code}); check the path and its permissions on the worker`,
    );
  }

  let passphrase: string | undefined;
  if (target.passphraseEnv !== undefined) {
    passphrase = process.env[target.passphraseEnv];
    if (passphrase === undefined) {
      throw new SshConnectError(
        target,
        'config',
        `environment variable ${target.passphraseEnv} (passphraseEnv) is not set on the worker; ` +
          `set it to the private key's passphrase`,
      );
    }
  }

  const parsed = ssh2.utils.parseKey(keyData, passphrase);
  if (parsed instanceof Error) {
    throw new SshConnectError(target, 'config', describeKeyParseError(parsed, target));
  }
  const key = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (key.getPrivatePEM() === null) {
    throw new SshConnectError(target, 'config', 'the file set in privateKeyFile contains a public key, not a private key; point it at the private half');
  }
  return { keyData, passphrase };
}

function describeKeyParseError(error: Error, target: ConnectionTarget): string {
  if (/no passphrase/i.test(error.message)) {
    return 'the private key is encrypted and no passphraseEnv is set; name the environment variable that contains its passphrase';
  }
  if (/decrypt|passphrase|bad/i.test(error.message) && target.passphraseEnv !== undefined) {
    return `cannot decrypt the private key with the passphrase from ${target.passphraseEnv}; check that variable's value`;
  }
  return `cannot parse the private key set in privateKeyFile (${error.message}); expected an OpenSSH, PEM or PPK private key`;
}
