// What install and predeploy share: whether the step is wanted, and running it in the
// staging tree under the deploy's one build deadline, in its own process group, inside the
// sandbox the machine allows (sandbox.ts).
import fs from 'node:fs';
import path from 'node:path';
import { noBuildReason } from '../decide.js';
import { bunCommand, findCommand, runStep, withBunOnPath } from '../build.js';
import { ready, type DeployCtx } from '../context.js';
import { sandboxPlan } from '../sandbox.js';

/** --install / --no-install (and predeploy) win over the app's setting. */
export function wants(c: DeployCtx, step: 'install' | 'predeploy'): boolean {
  return c.req[step] ?? c.settings[step];
}

/** Why a build step does not run before looking at the app: no build, or the step is off. */
export function stepOff(c: DeployCtx, step: 'install' | 'predeploy'): string | undefined {
  return noBuildReason(c.decision) ?? (wants(c, step) ? undefined : `turned off (--no-${step} or the ${step} setting)`);
}

export async function runBunInRelease(c: DeployCtx, args: string[], label: string, setting: 'install' | 'predeploy'): Promise<void> {
  ready(c, 'build');
  const { staging, log } = c.build;
  const { layout, app } = c;
  const bun = bunCommand();
  const env = withBunOnPath(buildEnv(c), bun);
  const hide = [layout.roots.appsDir, layout.revDir, layout.roots.toesDir];
  const plan = sandboxPlan({
    mode: c.settings.buildSandbox,
    network: c.settings.buildNetwork,
    staging,
    // Every release and the store's links to them, toes-rev's state (tokens, secrets,
    // logins), every app's data; the app's own data stays readable, as the app itself sees it.
    hide,
    readOnly: [env.DATA_DIR, ...bunDirs(bun, env.PATH, hide)],
    env,
    app,
  });
  if (plan.warning && !c.notes.includes(plan.warning)) {
    c.notes.push(plan.warning);
    log.write(`warning: ${plan.warning}\n`);
  }
  await runStep(bun, args, { cwd: staging, env: plan.env, log, deadline: c.deadline, label, app, setting, prefix: plan.prefix, pgidFile: layout.buildPgid(app) });
}

/**
 * The folders the step needs to reach Bun: where `bun` is found (the link on PATH and the
 * binary it leads to). The sandbox hides /tmp, and a clone of toes under /tmp (its
 * node_modules/.bin, the `bun` package's binary) would otherwise vanish from the build.
 */
export function bunDirs(bun: string, PATH: string | undefined, hidden: string[]): string[] {
  const dirs = new Set<string>();
  for (const p of [findCommand(bun, PATH), findCommand('bun', PATH)]) {
    if (!p) continue;
    dirs.add(path.dirname(path.resolve(p)));
    try {
      dirs.add(path.dirname(fs.realpathSync(p)));
    } catch {
      // A dangling link: nothing to open, the step will say the program is missing.
    }
  }
  const inside = (d: string, h: string) => d === h || d.startsWith(`${h}/`);
  return [...dirs].filter((d) => !hidden.some((h) => inside(d, path.resolve(h))));
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
