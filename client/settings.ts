/** Where the client and worker find Temporal, from the environment, with the dev server's defaults. */
import { TASK_QUEUE_DEFAULT } from '../workflows/definitions.js';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Base URL of the Temporal web UI, for links printed to the operator. */
  uiUrl: string;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.KBOOT_TASK_QUEUE ?? TASK_QUEUE_DEFAULT,
    uiUrl: (env.KBOOT_UI_URL ?? 'http://127.0.0.1:8233').replace(/\/$/, ''),
  };
}

export function workflowUiUrl(settings: TemporalSettings, workflowId: string): string {
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The version recorded in markers and search attributes. */
export const KBOOT_VERSION = '0.1.0';
