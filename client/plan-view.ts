/** The task graph as text, Mermaid or Graphviz dot. */
import { PHASES, type Plan, type PlanTask } from '../plan/index.js';

export type PlanFormat = 'text' | 'mermaid' | 'dot';

/** A node id both Mermaid and dot accept. */
function nodeId(task: PlanTask): string {
  return task.id.replace(/[^A-Za-z0-9]/g, '_');
}

function label(task: PlanTask): string {
  return task.ref.kind === 'step' ? `${task.ref.host}: ${task.ref.step}` : `${task.ref.gate} (on ${task.runsOn})`;
}

function byPhase(plan: Plan): PlanTask[] {
  return [...plan.tasks].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase));
}

function renderText(plan: Plan): string {
  const lines = [`plan for cluster ${plan.cluster}: ${plan.tasks.length} tasks on ${Object.keys(plan.hostSteps).length} hosts`];
  for (const phase of PHASES) {
    const tasks = plan.tasks.filter((task) => task.phase === phase);
    if (tasks.length === 0) continue;
    lines.push(`${phase}:`);
    for (const task of tasks) {
      const kind = task.ref.kind === 'gate' ? 'gate ' : '';
      lines.push(`  ${kind}${task.id}  ${task.title}${task.needs.length > 0 ? `  (after ${task.needs.join(', ')})` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function renderMermaid(plan: Plan): string {
  const lines = ['flowchart TD'];
  for (const task of byPhase(plan)) {
    const text = label(task).replace(/"/g, "'");
    lines.push(task.ref.kind === 'gate' ? `  ${nodeId(task)}{{"${text}"}}` : `  ${nodeId(task)}["${text}"]`);
  }
  const ids = new Map(plan.tasks.map((task) => [task.id, task]));
  for (const task of plan.tasks) {
    for (const need of task.needs) lines.push(`  ${nodeId(ids.get(need) as PlanTask)} --> ${nodeId(task)}`);
  }
  return `${lines.join('\n')}\n`;
}

function renderDot(plan: Plan): string {
  const lines = [`digraph "${plan.cluster}" {`, '  rankdir=TB;', '  node [shape=box, fontname="sans-serif"];'];
  for (const task of byPhase(plan)) {
    lines.push(`  ${nodeId(task)} [label="${label(task).replace(/"/g, '\\"')}"${task.ref.kind === 'gate' ? ', shape=hexagon' : ''}];`);
  }
  const ids = new Map(plan.tasks.map((task) => [task.id, task]));
  for (const task of plan.tasks) {
    for (const need of task.needs) lines.push(`  ${nodeId(ids.get(need) as PlanTask)} -> ${nodeId(task)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export function renderPlan(plan: Plan, format: PlanFormat): string {
  if (format === 'mermaid') return renderMermaid(plan);
  if (format === 'dot') return renderDot(plan);
  return renderText(plan);
}
