// The release log as users see it. Repairs the log first when the app is idle; while a
// deploy holds the lock, shows the log as it stands.
import fs from 'node:fs';
import { RevError, isRevError } from '../errors.js';
import { acquireLock } from '../releases/lock.js';
import { loadApp, type AppState } from '../releases/reconcile.js';
import { effectiveConfig, effectiveEnv } from '../releases/settings.js';
import { recoverApp } from './activation.js';
import { describePlan, restartPlan } from './supervisor/plan.js';
import { appProcessEnv } from './build.js';
import type { Layout } from '../releases/paths.js';

export interface ReleaseView {
  id: string;
  version: string;
  commit: string | null;
  status: string;
  live: boolean;
  createdAt: string;
  finishedAt: string | null;
  source: string | null;
  ref: string | null;
  trigger: string;
  pruned: boolean;
  error: { code: string; message: string; stage?: string; logTail?: string } | null;
}

/** Which supervisor restarts the app, in words (or why none can). */
export async function supervisorOf(layout: Layout, app: string): Promise<string> {
  try {
    return describePlan(restartPlan({ app, release: '{release}', releaseDir: '{release}', toesUrl: layout.roots.toesUrl, settings: await effectiveConfig(layout, app) }));
  } catch (err) {
    return `misconfigured: ${(err as Error).message}`;
  }
}

export async function listReleases(layout: Layout, app: string): Promise<{ app: string; releases: ReleaseView[]; busy: boolean }> {
  if (!fs.existsSync(layout.releaseLog(app)) && !fs.existsSync(layout.appDir(app))) {
    throw new RevError('UNKNOWN_APP', `${app} has no releases and no directory in ${layout.roots.appsDir}; deploy it with \`toes deploy ${app} --from <source>\`.`, {
      data: { app },
    });
  }
  let state: AppState;
  let busy = false;
  try {
    const lock = await acquireLock(layout.lockDir(app), { command: 'releases', waitMs: 0 });
    try {
      // An activation killed between its swap and its health check is settled here too.
      const env = appProcessEnv(await effectiveEnv(layout, app));
      const settings = await effectiveConfig(layout, app);
      ({ state } = await recoverApp({ layout, app, settings, env, now: () => new Date(), say: () => {} }));
    } finally {
      await lock.release();
    }
  } catch (err) {
    if (!isRevError(err, 'LOCKED')) throw err;
    busy = true;
    state = await loadApp(layout, app);
  }
  return {
    app,
    busy,
    releases: state.releases.map((r) => ({
      id: r.id,
      version: r.version,
      commit: r.commit ?? null,
      status: r.status,
      live: r.id === state.liveId,
      createdAt: r.createdAt,
      finishedAt: r.finishedAt ?? null,
      source: r.source ?? null,
      ref: r.ref ?? null,
      trigger: r.trigger,
      pruned: !!r.pruned,
      error: r.error ?? null,
    })),
  };
}
