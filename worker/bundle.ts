/**
 * Bundles the workflow code once at build time, so a worker starts in about a second instead of
 * running webpack on every start (workers restart often: deploys, crashes, scale-out).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOW_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)) });
  writeFileSync(WORKFLOW_BUNDLE, code);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`bundle workflows: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
