// The release log as users see it (`toes releases`). It only reads: the state is the log
// reconciled with the disk in memory, and a repair that is due (a killed deploy's
// leftovers, an unchecked activation) is named, with the command that performs it,
// instead of being done here.
import fs from 'node:fs';
import { RevError } from '../errors.js';
import { lockHolder } from '../releases/lock.js';
import type { Layout } from '../releases/paths.js';
import { isAdopted, loadApp, planReconcile, type AppState } from '../releases/reconcile.js';
import { appSettings } from '../releases/settings/load.js';
import { repairsDue } from './activation-journal.js';
import { describePlan, restartPlan } from './supervisor/plan.js';

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
  /** Why retention never removes it: `adopted` (made before toes-rev; see retention.ts). */
  kept: 'adopted' | null;
  error: { code: string; message: string; stage?: string; logTail?: string } | null;
}

export interface ReleaseList {
  app: string;
  releases: ReleaseView[];
  /** A deploy or rollback holds the lock: the log is shown as it stands. */
  busy: boolean;
  /** Repairs the next deploy or rollback makes first (both recover before anything else). */
  recoveryNeeded?: { reasons: string[]; command: string };
}

/** Which supervisor restarts the app, in words (or why none can). */
export async function supervisorOf(layout: Layout, app: string): Promise<string> {
  try {
    return describePlan(restartPlan({ app, release: '{release}', releaseDir: '{release}', toesUrl: layout.roots.toesUrl, settings: await appSettings(layout, app) }));
  } catch (err) {
    return `misconfigured: ${(err as Error).message}`;
  }
}

export async function listReleases(layout: Layout, app: string): Promise<ReleaseList> {
  if (!fs.existsSync(layout.releaseLog(app)) && !fs.existsSync(layout.appDir(app))) {
    throw new RevError('UNKNOWN_APP', `${app} has no releases and no directory in ${layout.roots.appsDir}; deploy it with \`toes deploy ${app} --from <source>\`.`, {
      data: { app },
    });
  }
  if (await lockHolder(layout.lockDir(app))) {
    return { app, busy: true, releases: views(await loadApp(layout, app)) };
  }
  const state = await planReconcile(layout, app);
  const reasons = await repairsDue(layout, app, state);
  return {
    app,
    busy: false,
    releases: views(state),
    ...(reasons.length ? { recoveryNeeded: { reasons, command: `toes deploy ${app}` } } : {}),
  };
}

function views(state: AppState): ReleaseView[] {
  return state.releases.map((r) => ({
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
    kept: isAdopted(r) && !r.pruned ? 'adopted' : null,
    error: r.error ?? null,
  }));
}
