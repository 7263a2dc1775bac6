/**
 * `kboot plan` pictures of the example spec, read back and compared with the planner's own edges:
 * the Mermaid text by parsing its node and edge lines, the dot text through Graphviz itself.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildPlan, type Plan } from '../../plan/index';
import { parseSpec } from '../../client/spec-file';
import { nodeIds, renderPlan, taskLabel } from '../../client/plan-view';
import { REPO_ROOT, runKboot } from '../helpers/kboot';

const EXAMPLE = resolve(REPO_ROOT, 'examples/cluster.yaml');
const { spec } = parseSpec(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
const plan = buildPlan(spec);

/** Lists every dependency of the plan as `need -> task`, by task id. */
function plannerEdges(source: Plan): string[] {
  return source.tasks.flatMap((task) => task.needs.map((need) => `${need} -> ${task.id}`)).sort();
}

interface MermaidGraph {
  /** Node id to its label and shape. */
  nodes: Map<string, { label: string; shape: 'box' | 'hexagon'; subgraph?: string }>;
  edges: Array<[string, string]>;
  subgraphs: string[];
  header: string;
}

/** Parses the subset of Mermaid flowchart syntax that plan-view writes; any other line fails the test. */
function parseMermaid(text: string): MermaidGraph {
  const [header, ...lines] = text.trimEnd().split('\n');
  const graph: MermaidGraph = { nodes: new Map(), edges: [], subgraphs: [], header };
  let subgraph: string | undefined;
  for (const line of lines) {
    let match: RegExpExecArray | null;
    if ((match = /^ {2}subgraph (\w+)\["([^"]+)"\]$/.exec(line))) {
      subgraph = match[2];
      graph.subgraphs.push(match[2]);
    } else if (line === '  end') {
      subgraph = undefined;
    } else if ((match = /^ {4}(\w+)\["([^"]+)"\]$/.exec(line))) {
      graph.nodes.set(match[1], { label: match[2], shape: 'box', subgraph });
    } else if ((match = /^ {4}(\w+)\{\{"([^"]+)"\}\}$/.exec(line))) {
      graph.nodes.set(match[1], { label: match[2], shape: 'hexagon', subgraph });
    } else if ((match = /^ {2}(\w+) --> (\w+)$/.exec(line))) {
      graph.edges.push([match[1], match[2]]);
    } else {
      throw new Error(`unexpected Mermaid line: ${JSON.stringify(line)}`);
    }
  }
  return graph;
}

describe('kboot plan --format mermaid', () => {
  const text = renderPlan(plan, 'mermaid');
  const graph = parseMermaid(text);
  const taskByNode = new Map([...nodeIds(plan)].map(([taskId, nodeId]) => [nodeId, plan.tasks.find((task) => task.id === taskId)!]));

  test('is a top-down flowchart', () => {
    expect(graph.header).toBe('flowchart TD');
  });

  test('has one node per task', () => {
    expect(graph.nodes.size).toBe(plan.tasks.length);
    for (const [nodeId, node] of graph.nodes) {
      const task = taskByNode.get(nodeId);
      expect(task).toBeDefined();
      expect(node.label).toBe(taskLabel(task!));
      expect(node.shape).toBe(task!.ref.kind === 'gate' ? 'hexagon' : 'box');
      expect([nodeId, node.subgraph]).toEqual([nodeId, task!.phase]);
    }
  });

  test('edges equal the planner edges', () => {
    const edges = graph.edges.map(([from, to]) => `${taskByNode.get(from)?.id} -> ${taskByNode.get(to)?.id}`).sort();
    expect(edges).toEqual(plannerEdges(plan));
  });

  test('phases appear in rollout order', () => {
    expect(graph.subgraphs).toEqual(['preflight', 'packages', 'hosts', 'etcd', 'network', 'docker', 'master', 'node', 'verify']);
  });

  test('README shows the current graph', () => {
    const readme = readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8');
    const block = /```mermaid\n([\s\S]*?)```/.exec(readme);
    expect(block?.[1]).toBe(text);
  });

  test('CLI prints it without key files', async () => {
    // The example's key files do not exist: the plan must not need them.
    const result = await runKboot(['plan', EXAMPLE, '--format', 'mermaid'], {}, 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(text);
  });
});

describe('kboot plan --format dot', () => {
  const text = renderPlan(plan, 'dot');

  test('Graphviz reads the planner edges', () => {
    const result = spawnSync('dot', ['-Tjson'], { input: text, encoding: 'utf8', timeout: 30_000 });
    if (result.error) throw new Error(`dot could not run: ${result.error.message}; install graphviz (scripts/ensure-deps.sh)`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const layout = JSON.parse(result.stdout) as {
      objects: Array<{ name: string; label?: string; nodes?: number[]; _gvid: number }>;
      edges: Array<{ tail: number; head: number }>;
    };
    const taskByNode = new Map([...nodeIds(plan)].map(([taskId, nodeId]) => [nodeId, taskId]));
    const nameById = new Map(layout.objects.map((object) => [object._gvid, object.name]));
    const edges = layout.edges.map((edge) => `${taskByNode.get(nameById.get(edge.tail)!)} -> ${taskByNode.get(nameById.get(edge.head)!)}`).sort();
    expect(edges).toEqual(plannerEdges(plan));

    const phaseBoxes = layout.objects.filter((object) => object.name.startsWith('cluster_')).map((object) => object.label);
    expect(phaseBoxes).toEqual(['preflight', 'packages', 'hosts', 'etcd', 'network', 'docker', 'master', 'node', 'verify']);
  });
});

describe('kboot plan', () => {
  test('text lists every task by phase', () => {
    const lines = renderPlan(plan, 'text').trimEnd().split('\n');
    expect(lines[0]).toBe(`plan for cluster prod-east: ${plan.tasks.length} tasks on 4 hosts`);
    for (const task of plan.tasks) expect(lines.some((line) => line.trimStart().startsWith(task.ref.kind === 'gate' ? `gate ${task.id}  ` : `${task.id}  `))).toBe(true);
    expect(lines).toContain('  gate gate:etcd-quorum  etcd quorum: every member healthy and in the member list  (after etcd@master1, etcd@node1, etcd@node2)');
  });

  test('invalid format exits 2', async () => {
    const result = await runKboot(['plan', EXAMPLE, '--format', 'svg'], {}, 60_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: invalid --format svg: use text, mermaid or dot\n');
  });
});
