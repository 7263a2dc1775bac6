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

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing (expected ${issue.expected})`;
  return issue.message;
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
  return { loaded: { spec: resolveLocalPaths(spec, file), file, warnings }, fail };
}

export interface LoadOptions {
  /**
   * Accept a knownHostsFile that does not exist yet: `kboot trust` creates it on first contact.
   * Default false.
   */
  knownHostsMayBeMissing?: boolean;
}

/** Reads and validates a spec file, including that the SSH key and known_hosts files exist. */
export function loadSpec(file: string, options: LoadOptions = {}): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SpecError(file, '', `cannot read the spec file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
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
    if (localFile !== undefined && !existsSync(localFile)) fail(path, `file not found: ${localFile}; ${advice}`);
  }
  return loaded;
}
