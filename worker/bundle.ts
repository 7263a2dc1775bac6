/**
 * Bundles the workflow code once at build time, so a worker starts in about a second instead of
 * running webpack on every start (workers restart often: deploys, crashes, scale-out).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

export const WORKFLOW_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/**
 * Returns the workflow code to run or replay: the built bundle, or, given a workflows module (.ts
 * or .js), that module bundled now. Checking a candidate release is the one reason to pass a module.
 */
export async function workflowBundleFor(workflowsPath: string | undefined): Promise<{ code: string } | { codePath: string }> {
  if (!workflowsPath) return { codePath: WORKFLOW_BUNDLE };
  return bundleWorkflowCode({
    workflowsPath,
    logger: new DefaultLogger('WARN'),
    // TypeScript sources import with `.js` suffixes (NodeNext); let webpack find the `.ts` file.
    webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } } }),
  });
}

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
