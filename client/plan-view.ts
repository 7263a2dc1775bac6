/**
 * The task graph as text, Mermaid or Graphviz dot. The pictures put each phase in a box of its
 * own, host steps as rectangles and gates as hexagons, with one arrow per dependency.
 */
import { PHASES, type Phase, type Plan, type PlanTask } from '../plan/index.js';

export type PlanFormat = 'text' | 'mermaid' | 'dot';

export const PLAN_FORMATS: readonly PlanFormat[] = ['text', 'mermaid', 'dot'];

/**
 * Maps each task id to a node id that Mermaid and dot both accept unquoted. Host names and step
 * ids use only letters, digits and `-`, so `-` becomes `_` and the separator is `__`. A clash that
 * still occurs gets the task's index appended.
 */
export function nodeIds(plan: Plan): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  plan.tasks.forEach((task, index) => {
    const base = task.ref.kind === 'step' ? `${task.ref.step}__${task.ref.host}` : `gate__${task.ref.gate}`;
    let id = base.replace(/[^A-Za-z0-9_]/g, '_');
    if (used.has(id)) id = `${id}__${index}`;
    used.add(id);
    ids.set(task.id, id);
  });
  return ids;
}

/** Returns a node's label: `host: step` for a host step, `gate (on host)` for a gate. */
export function taskLabel(task: PlanTask): string {
  return task.ref.kind === 'step' ? `${task.ref.host}: ${task.ref.step}` : `${task.ref.gate} (on ${task.runsOn})`;
}

function tasksByPhase(plan: Plan): Array<[Phase, PlanTask[]]> {
  return PHASES.map((phase): [Phase, PlanTask[]] => [phase, plan.tasks.filter((task) => task.phase === phase)]).filter(([, tasks]) => tasks.length > 0);
}

function renderText(plan: Plan): string {
  const lines = [`plan for cluster ${plan.cluster}: ${plan.tasks.length} tasks on ${Object.keys(plan.hostSteps).length} hosts`];
  for (const [phase, tasks] of tasksByPhase(plan)) {
    lines.push(`${phase}:`);
    for (const task of tasks) {
      const kind = task.ref.kind === 'gate' ? 'gate ' : '';
      lines.push(`  ${kind}${task.id}  ${task.title}${task.needs.length > 0 ? `  (after ${task.needs.join(', ')})` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function renderMermaid(plan: Plan): string {
  const ids = nodeIds(plan);
  const lines = ['flowchart TD'];
  for (const [phase, tasks] of tasksByPhase(plan)) {
    lines.push(`  subgraph phase_${phase}["${phase}"]`);
    for (const task of tasks) {
      const text = taskLabel(task).replace(/"/g, '#quot;');
      const id = ids.get(task.id) as string;
      lines.push(task.ref.kind === 'gate' ? `    ${id}{{"${text}"}}` : `    ${id}["${text}"]`);
    }
    lines.push('  end');
  }
  for (const task of plan.tasks) {
    for (const need of task.needs) lines.push(`  ${ids.get(need)} --> ${ids.get(task.id)}`);
  }
  return `${lines.join('\n')}\n`;
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function renderDot(plan: Plan): string {
  const ids = nodeIds(plan);
  const lines = [
    `digraph ${dotString(plan.cluster)} {`,
    '  rankdir=TB;',
    '  node [shape=box, fontname="sans-serif", fontsize=11];',
    '  graph [fontname="sans-serif", fontsize=12, style=rounded, color=gray60];',
  ];
  for (const [phase, tasks] of tasksByPhase(plan)) {
    // Graphviz draws a box around a subgraph only when its name starts with "cluster".
    lines.push(`  subgraph cluster_${phase} {`, `    label=${dotString(phase)};`);
    for (const task of tasks) {
      lines.push(`    ${ids.get(task.id)} [label=${dotString(taskLabel(task))}${task.ref.kind === 'gate' ? ', shape=hexagon, style=filled, fillcolor="#fff2cc"' : ''}];`);
    }
    lines.push('  }');
  }
  for (const task of plan.tasks) {
    for (const need of task.needs) lines.push(`  ${ids.get(need)} -> ${ids.get(task.id)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function renderPlan(plan: Plan, format: PlanFormat): string {
  if (format === 'mermaid') return renderMermaid(plan);
  if (format === 'dot') return renderDot(plan);
  return renderText(plan);
}
