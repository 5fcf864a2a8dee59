// predeploy: `bun run predeploy` in the staging tree, after install (it may need the dependencies).
import { readPackageJson } from '../build.js';
import { ready, type DeployCtx } from '../context.js';
import { runBunInRelease, stepOff } from './build-step.js';

export function skipPredeploy(c: DeployCtx): string | undefined {
  const off = stepOff(c, 'predeploy');
  if (off) return off;
  ready(c, 'build');
  return readPackageJson(c.build.staging).scripts?.predeploy ? undefined : 'package.json has no scripts.predeploy';
}

export async function predeploy(c: DeployCtx): Promise<void> {
  await runBunInRelease(c, ['run', 'predeploy'], 'predeploy', 'predeploy');
}
