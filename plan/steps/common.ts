/** Pieces shared by the step renderings. */
import { quote } from '../shell.js';
import type { ManagedFile, Probe } from '../types.js';

export const MANAGED_HEADER = '# Managed by kboot: edits here are replaced on the next apply.\n';

/** A systemd EnvironmentFile: `KEY="value"` lines, with `\` and `"` escaped as systemd reads them. */
export function environmentFile(path: string, entries: Array<[string, string]>): ManagedFile {
  const lines = entries.map(([key, value]) => `${key}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return { path, mode: '0644', content: `${MANAGED_HEADER}${lines.join('\n')}\n` };
}

export function unitActive(unit: string, timeoutSeconds = 60): Probe {
  return {
    description: `${unit} is active`,
    script: `systemctl is-active --quiet ${quote(unit)}`,
    timeoutSeconds,
    intervalSeconds: 1,
  };
}

/** An HTTP endpoint answers 2xx with `ok` in its body (the Kubernetes /healthz contract). */
export function healthz(description: string, url: string, timeoutSeconds = 60): Probe {
  return {
    description,
    script: `curl -fsS --max-time 5 ${quote(url)} | grep -qx ok`,
    timeoutSeconds,
    intervalSeconds: 1,
  };
}
