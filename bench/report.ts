/**
 * The benchmark's printed report: per fleet size, each figure as a ratio or a per-host figure, and
 * for the largest fleet whether each target is met.
 */
import type { AnsibleFigures, KbootFigures, ResumeFigures } from './scenarios.js';

export interface SizeResult {
  hosts: number;
  kboot: KbootFigures;
  ansible: AnsibleFigures;
  kbootResume: ResumeFigures;
  ansibleResume: ResumeFigures;
}

export interface Machine {
  cores: number;
  memoryGiB: number;
  cpu: string;
}

/** The targets, checked on the largest fleet of the run. */
export const TARGETS = {
  fullRatio: 0.5,
  noopRatio: 0.3,
  resumeOfFull: 0.1,
  overhead: 0.2,
};

const seconds = (value: number): string => `${value.toFixed(1)} s`;
const ratio = (value: number): string => value.toFixed(2);
const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

function overhead(result: SizeResult): number {
  return result.kboot.fullSeconds / result.kboot.criticalPathSeconds - 1;
}

function sizeLines(result: SizeResult): string[] {
  const { kboot, ansible, kbootResume, ansibleResume, hosts } = result;
  const memoryMiB = kboot.peakMemoryKiB / 1024;
  return [
    `${hosts} hosts`,
    `  full rollout      kboot ${seconds(kboot.fullSeconds)}, Ansible ${seconds(ansible.fullSeconds)}: ratio ${ratio(kboot.fullSeconds / ansible.fullSeconds)}`,
    `  no-op re-run      kboot ${seconds(kboot.noopSeconds)}, Ansible ${seconds(ansible.noopSeconds)}: ratio ${ratio(kboot.noopSeconds / ansible.noopSeconds)}`,
    `  resume            kboot ${seconds(kbootResume.resumeSeconds)}, Ansible ${seconds(ansibleResume.resumeSeconds)}: ratio ${ratio(kbootResume.resumeSeconds / ansibleResume.resumeSeconds)}; ` +
      `kboot resume / kboot full rollout ${ratio(kbootResume.resumeSeconds / kboot.fullSeconds)}`,
    `  overhead          kboot ${seconds(kboot.fullSeconds)} over a critical path of ${seconds(kboot.criticalPathSeconds)} of raw commands: ${(overhead(result) * 100).toFixed(0)}%`,
    `  critical path     ${kboot.criticalPath.join(' -> ')}`,
    `  rollout workflow  ${seconds(kboot.workflowSeconds)} of the ${seconds(kboot.fullSeconds)}; ${kboot.hostRuns} host runs, started by the server ` +
      `${kboot.childStartMeanSeconds.toFixed(2)} s after their start command on average (95th percentile ${kboot.childStartP95Seconds.toFixed(2)} s)`,
    `  host run waves    first to last start: ${Object.entries(kboot.waveSpreadSeconds).map(([step, spread]) => `${step} ${seconds(spread)}`).join(', ')}`,
    `  worker memory     peak ${memoryMiB.toFixed(0)} MiB, ${(memoryMiB / hosts).toFixed(1)} MiB per host`,
    `  sshd per host     kboot: at most ${kboot.sessions.connections} connections, ${kboot.sessions.sessions} sessions, ${kboot.sessions.unauthenticated} unauthenticated at once; ` +
      `Ansible: ${ansible.sessions.connections}, ${ansible.sessions.sessions}, ${ansible.sessions.unauthenticated} (sampled every 250 ms)`,
    `  sshd limit hits   kboot ${kboot.sshdLimitMessages}, Ansible ${ansible.sshdLimitMessages} (sshd at its defaults: MaxSessions 10, MaxStartups 10:30:100)`,
    `  machine load      mean 1-minute load average ${kboot.sessions.meanLoad.toFixed(1)} during kboot's runs, ${ansible.sessions.meanLoad.toFixed(1)} during Ansible's`,
    `  same work         ${ansible.fileDifferences.length === 0 ? "every file Ansible wrote matches kboot's rendering (header line aside)" : `${ansible.fileDifferences.length} differences: ${ansible.fileDifferences.slice(0, 5).join('; ')}`}`,
  ];
}

function targetLines(results: SizeResult[]): string[] {
  const largest = results.reduce((best, result) => (result.hosts > best.hosts ? result : best));
  const smallest = results.reduce((best, result) => (result.hosts < best.hosts ? result : best));
  const full = largest.kboot.fullSeconds / largest.ansible.fullSeconds;
  const noop = largest.kboot.noopSeconds / largest.ansible.noopSeconds;
  const resume = largest.kbootResume.resumeSeconds / largest.kboot.fullSeconds;
  const lines = [
    `targets at ${largest.hosts} hosts`,
    `  full rollout <= ${TARGETS.fullRatio} x Ansible:         ${ratio(full)}  ${verdict(full <= TARGETS.fullRatio)}`,
    `  no-op re-run <= ${TARGETS.noopRatio} x Ansible:         ${ratio(noop)}  ${verdict(noop <= TARGETS.noopRatio)}`,
    `  resume <= ${TARGETS.resumeOfFull} x kboot's full rollout:   ${ratio(resume)}  ${verdict(resume <= TARGETS.resumeOfFull)}`,
    `  overhead <= ${TARGETS.overhead * 100}%:                   ${(overhead(largest) * 100).toFixed(0)}%  ${verdict(overhead(largest) <= TARGETS.overhead)}`,
  ];
  if (largest !== smallest) {
    const growth = largest.kboot.peakMemoryKiB / smallest.kboot.peakMemoryKiB;
    const hostsGrowth = largest.hosts / smallest.hosts;
    lines.push(
      `  worker memory grows less than linearly: ${ratio(growth)} x the memory for ${ratio(hostsGrowth)} x the hosts ` +
        `(${smallest.hosts} -> ${largest.hosts})  ${verdict(growth < hostsGrowth)}`,
    );
  }
  return lines;
}

export function renderReport(results: SizeResult[], machine: Machine): string {
  return [
    `kboot against Ansible on the sandbox fleet, one run of each scenario`,
    `machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB`,
    '',
    ...results.flatMap((result) => [...sizeLines(result), '']),
    ...targetLines(results),
  ].join('\n');
}
