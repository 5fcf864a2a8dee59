// install: `bun install` in the staging tree (--frozen-lockfile when the app has a lockfile).
import { installArgs, needsInstall } from '../build.js';
import { ready, type DeployCtx } from '../context.js';
import { runBunInRelease, stepOff } from './build-step.js';

export function skipInstall(c: DeployCtx): string | undefined {
  const off = stepOff(c, 'install');
  if (off) return off;
  ready(c, 'build');
  return needsInstall(c.build.staging) ? undefined : 'no dependencies, no lockfile and no install scripts';
}

export async function install(c: DeployCtx): Promise<void> {
  ready(c, 'build');
  await runBunInRelease(c, installArgs(c.build.staging), 'bun install', 'install');
}
