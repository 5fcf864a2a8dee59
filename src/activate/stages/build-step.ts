// What install and predeploy share: whether the step is wanted, and running it in the
// staging tree under the deploy's one build deadline, in its own process group.
import path from 'node:path';
import { noBuildReason } from '../decide.js';
import { bunCommand, runStep } from '../build.js';
import { ready, type DeployCtx } from '../context.js';

/** --install / --no-install (and predeploy) win over the app's setting. */
export function wants(c: DeployCtx, step: 'install' | 'predeploy'): boolean {
  return c.req[step] ?? c.settings[step];
}

/** Why a build step does not run before looking at the app: no build, or the step is off. */
export function stepOff(c: DeployCtx, step: 'install' | 'predeploy'): string | undefined {
  return noBuildReason(c.decision) ?? (wants(c, step) ? undefined : `turned off (--no-${step} or the ${step} setting)`);
}

export async function runBunInRelease(c: DeployCtx, args: string[], label: string): Promise<void> {
  ready(c, 'build');
  const { staging, log } = c.build;
  await runStep(bunCommand(), args, { cwd: staging, env: buildEnv(c), log, deadline: c.deadline, label, pgidFile: c.layout.buildPgid(c.app) });
}

/**
 * What a build sees: the app's environment, with DATA_DIR set to the app's own data
 * directory (as Toes gives the running app), and none of toes-rev's own locations. A build
 * runs as the same user, so this hides the way to rev/ rather than the files themselves:
 * the README says what a build can read.
 */
export function buildEnv(c: DeployCtx): Record<string, string> {
  const { APPS_DIR: _apps, TOES_DIR: _toes, ...env } = c.processEnv;
  return { ...env, DATA_DIR: path.join(c.layout.roots.toesDir, c.app) };
}
