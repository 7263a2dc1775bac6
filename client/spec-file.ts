/**
 * Reads a cluster spec file: YAML, then the schema, then the checks across fields that a schema
 * cannot express. Every problem becomes a SpecError naming the file, the spec path and, where the
 * YAML parser knows it, the line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { type ClusterSpec, clusterSpecSchema } from '../plan/spec.js';
import { checkMeaning, type FailAt, type PathSegment, type SpecWarning } from './spec-checks.js';

export type { SpecWarning } from './spec-checks.js';

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

export interface LoadedSpec {
  spec: ClusterSpec;
  file: string;
  warnings: SpecWarning[];
}

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

/** Formats a value from the spec for a message, cut short when long. */
function describeValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'a list' : value !== null && typeof value === 'object' ? 'a mapping' : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Tells whether zod wrote `message` itself, rather than the schema giving its own. */
function isZodDefault(message: string): boolean {
  return /^(Too (big|small)|Invalid (input|option))\b/.test(message);
}

/** Returns the one-line message for a schema issue; `value` is what the spec has at the issue's path. */
function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  const got = value === undefined ? '' : `, got ${describeValue(value)}`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
    case 'invalid_type':
      return value === undefined ? `missing (expected ${issue.expected})` : `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}${got}`;
    case 'too_big':
      if (!isZodDefault(issue.message)) return issue.message;
      return issue.origin === 'number' ? `must be at most ${issue.maximum}${got}` : `must have at most ${issue.maximum} ${issue.origin === 'string' ? 'characters' : 'entries'}`;
    case 'too_small':
      if (!isZodDefault(issue.message)) return issue.message;
      return issue.origin === 'number' ? `must be at least ${issue.minimum}${got}` : `must have at least ${issue.minimum} ${issue.origin === 'string' ? 'characters' : 'entries'}`;
    case 'invalid_value':
      return isZodDefault(issue.message) ? `must be one of ${issue.values.map(String).join(', ')}${got}` : issue.message;
    default:
      return isZodDefault(issue.message) ? `invalid value${got}` : issue.message;
  }
}

/** Returns the value at `path` in parsed YAML data, or undefined when there is none. */
function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** Resolves the spec's local file paths against the spec's folder, so the worker gets absolute paths. */
function resolveLocalPaths(spec: ClusterSpec, file: string): ClusterSpec {
  const base = dirname(resolve(file));
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  const { ssh } = spec;
  const jump = ssh.jump === undefined || ssh.jump.privateKeyFile === undefined ? ssh.jump : { ...ssh.jump, privateKeyFile: absolute(ssh.jump.privateKeyFile) };
  return {
    ...spec,
    ssh: { ...ssh, privateKeyFile: absolute(ssh.privateKeyFile), knownHostsFile: absolute(ssh.knownHostsFile), ...(jump === undefined ? {} : { jump }) },
  };
}

/** Parses and validates spec text. `file` is only used in messages and to resolve relative paths. */
export function parseSpec(text: string, file: string): LoadedSpec {
  return parseLocated(text, file).loaded;
}

/** Parses spec text and keeps the means to report a later error at its line. */
function parseLocated(text: string, file: string): { loaded: LoadedSpec; fail: FailAt } {
  const counter = new LineCounter();
  const document = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const error = document.errors[0];
    throw new SpecError(file, '', `invalid YAML: ${error.message.split('\n')[0]}`, counter.linePos(error.pos[0]).line);
  }
  if (!isMap(document.contents) && !isSeq(document.contents) && document.contents === null) throw new SpecError(file, '', 'the file is empty');
  const data: unknown = document.toJS();
  const parsed = clusterSpecSchema.safeParse(data);
  const fail = (path: PathSegment[], message: string): never => {
    throw new SpecError(file, formatPath(path), message, lineOf(document, counter, path));
  };
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    const message = issueMessage(issue, valueAt(data, path));
    // An unknown key is reported at its own line, under the mapping that has it.
    if (issue.code === 'unrecognized_keys') throw new SpecError(file, formatPath(path), message, lineOf(document, counter, [...path, issue.keys[0]]));
    fail(path, message);
  }
  const spec = parsed.data as ClusterSpec;
  const warnings = checkMeaning(spec, fail);
  return { loaded: { spec: resolveLocalPaths(spec, file), file, warnings }, fail };
}

export interface LoadOptions {
  /**
   * Accept a knownHostsFile that does not exist yet: `kboot trust` creates it on first contact.
   * Default false.
   */
  knownHostsMayBeMissing?: boolean;
}

/** Describes why a file could not be read, in words rather than errno codes. */
export function readProblem(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') return 'file not found; give the path of a cluster spec such as examples/cluster.yaml';
  if (error.code === 'EACCES') return 'permission denied; run kboot as a user who can read it';
  if (error.code === 'EISDIR') return 'it is a folder; give the path of the spec file inside it';
  return error.code ?? error.message;
}

/** Reads and validates a spec file, including that the SSH key and known_hosts files exist. */
export function loadSpec(file: string, options: LoadOptions = {}): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, '', `cannot read the spec file: ${readProblem(error as NodeJS.ErrnoException)}`);
  }
  const { loaded, fail } = parseLocated(text, file);
  const { ssh } = loaded.spec;
  const required: Array<[PathSegment[], string | undefined, string]> = [
    [['ssh', 'privateKeyFile'], ssh.privateKeyFile, 'point it at the private key the worker logs in with'],
    [['ssh', 'jump', 'privateKeyFile'], ssh.jump?.privateKeyFile, 'point it at the private key for the bastion'],
  ];
  if (options.knownHostsMayBeMissing !== true) {
    required.push([['ssh', 'knownHostsFile'], ssh.knownHostsFile, `record the hosts' keys into it with kboot trust ${file}`]);
  }
  for (const [path, localFile, advice] of required) {
    if (localFile === undefined) continue;
    if (!existsSync(localFile)) fail(path, `file not found: ${localFile}; ${advice}`);
    if (!statSync(localFile).isFile()) fail(path, `not a regular file: ${localFile}; ${advice}`);
  }
  return loaded;
}
