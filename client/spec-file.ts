/**
 * Reads a cluster spec file: YAML, then the schema, then the checks across fields that a schema
 * cannot express. Every problem becomes a SpecError naming the file, the spec path and, where the
 * YAML parser knows it, the line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { type ClusterSpec, clusterSpecSchema } from '../plan/spec.js';
import { hostsWithRole } from '../plan/topology.js';

/** Thrown when a spec file is missing, not YAML, or not a valid cluster spec. */
export class SpecError extends Error {
  constructor(
    readonly file: string,
    readonly specPath: string,
    readonly detail: string,
    readonly line?: number,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${specPath ? `${specPath}: ` : ''}${detail}`);
    this.name = 'SpecError';
  }
}

/** A finding that does not stop the rollout but that an operator should see. */
export interface SpecWarning {
  specPath: string;
  message: string;
}

export interface LoadedSpec {
  spec: ClusterSpec;
  file: string;
  warnings: SpecWarning[];
}

type PathSegment = string | number;

function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment), '');
}

/** The 1-based line of the YAML node at `path`, when it exists in the document. */
function lineOf(document: Document, counter: LineCounter, path: readonly PathSegment[]): number | undefined {
  for (let length = path.length; length >= 0; length--) {
    const node = document.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing (expected ${issue.expected})`;
  return issue.message;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function cidrRange(cidr: string): [number, number] {
  const [address, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipv4ToNumber(address) / size) * size;
  return [start, start + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [aStart, aEnd] = cidrRange(a);
  const [bStart, bEnd] = cidrRange(b);
  return aStart <= bEnd && bStart <= aEnd;
}

function inRange(address: string, cidr: string): boolean {
  const [start, end] = cidrRange(cidr);
  const value = ipv4ToNumber(address);
  return value >= start && value <= end;
}

/** Checks across fields. Throws the first error; returns warnings. */
function checkMeaning(spec: ClusterSpec, fail: (path: PathSegment[], message: string) => never): SpecWarning[] {
  const warnings: SpecWarning[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  spec.hosts.forEach((host, index) => {
    if (names.has(host.name)) fail(['hosts', index, 'name'], `duplicate host name ${host.name} (also hosts[${names.get(host.name)}])`);
    if (addresses.has(host.address)) fail(['hosts', index, 'address'], `duplicate address ${host.address} (also hosts[${addresses.get(host.address)}])`);
    if (new Set(host.roles).size !== host.roles.length) fail(['hosts', index, 'roles'], `lists a role twice: ${host.roles.join(', ')}`);
    names.set(host.name, index);
    addresses.set(host.address, index);
  });
  if (hostsWithRole(spec, 'master').length === 0) fail(['hosts'], 'no host has the master role: a cluster needs at least one');
  const members = hostsWithRole(spec, 'etcd').length;
  if (members === 0) fail(['hosts'], 'no host has the etcd role: a cluster needs at least one etcd member');
  if (members % 2 === 0) {
    warnings.push({
      specPath: 'hosts',
      message: `${members} etcd members tolerate ${members / 2 - 1} failure(s), no more than ${members - 1} would; use an odd number`,
    });
  } else if (members === 1) {
    warnings.push({ specPath: 'hosts', message: 'a single etcd member tolerates no failure; use 3 or 5 members for production' });
  }

  const { network, subnetLen } = spec.flannel;
  const networkBits = Number(network.split('/')[1]);
  if (subnetLen <= networkBits) fail(['flannel', 'subnetLen'], `${subnetLen} must be longer than the flannel network's prefix /${networkBits}`);
  if (overlaps(network, spec.kubernetes.serviceClusterIpRange)) {
    fail(['flannel', 'network'], `${network} overlaps kubernetes.serviceClusterIpRange ${spec.kubernetes.serviceClusterIpRange}`);
  }
  spec.hosts.forEach((host, index) => {
    if (/^[0-9.]+$/.test(host.address) && inRange(host.address, network)) {
      fail(['flannel', 'network'], `${network} contains hosts[${index}] ${host.name}'s address ${host.address}: pods would shadow the host network`);
    }
  });
  const { storageDriver, storageOptions } = spec.docker;
  if (storageDriver === 'devicemapper' && !storageOptions.some((option) => option.startsWith('dm.thinpooldev='))) {
    fail(['docker', 'storageOptions'], 'devicemapper without dm.thinpooldev runs loop-lvm, which docker documents as unfit for production; set dm.thinpooldev to an LVM thin pool');
  }
  const masters = hostsWithRole(spec, 'master');
  if (spec.kubernetes.admissionControl.includes('ServiceAccount') && masters.length > 1 && !spec.kubernetes.serviceAccountKeyFile) {
    fail(
      ['kubernetes', 'serviceAccountKeyFile'],
      `missing: ServiceAccount admission with ${masters.length} masters needs one signing key shared by all of them; put the same private key on every master and set its path here`,
    );
  }
  return warnings;
}

/** Resolves the spec's local file paths against the spec's folder, so the worker gets absolute paths. */
function resolveLocalPaths(spec: ClusterSpec, file: string): ClusterSpec {
  const base = dirname(resolve(file));
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  return { ...spec, ssh: { ...spec.ssh, privateKeyFile: absolute(spec.ssh.privateKeyFile), knownHostsFile: absolute(spec.ssh.knownHostsFile) } };
}

/** Parses and validates spec text. `file` is only used in messages and to resolve relative paths. */
export function parseSpec(text: string, file: string): LoadedSpec {
  const counter = new LineCounter();
  const document = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const error = document.errors[0];
    throw new SpecError(file, '', `invalid YAML: ${error.message.split('\n')[0]}`, counter.linePos(error.pos[0]).line);
  }
  if (!isMap(document.contents) && !isSeq(document.contents) && document.contents === null) throw new SpecError(file, '', 'the file is empty');
  const parsed = clusterSpecSchema.safeParse(document.toJS());
  const fail = (path: PathSegment[], message: string): never => {
    throw new SpecError(file, formatPath(path), message, lineOf(document, counter, path));
  };
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    fail(path, issueMessage(issue));
  }
  const spec = parsed.data as ClusterSpec;
  const warnings = checkMeaning(spec, fail);
  return { spec: resolveLocalPaths(spec, file), file, warnings };
}

/** Reads and validates a spec file, including that the SSH key and known_hosts files exist. */
export function loadSpec(file: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, '', `cannot read the spec file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const loaded = parseSpec(text, file);
  for (const key of ['privateKeyFile', 'knownHostsFile'] as const) {
    const path = loaded.spec.ssh[key];
    if (!existsSync(path)) throw new SpecError(file, `ssh.${key}`, `file not found: ${path}`);
  }
  return loaded;
}
