// `toes releases remove APP VERSION`: the one way an adopted release goes (retention never
// removes one: it may hold the only copy of an `.env` or a data file). It names what it
// deletes, refuses the live release, and with `dryRun` only says what it would delete.
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError } from '../errors.js';
import { acquireLock } from './lock.js';
import { appendLog, type ReleaseRecord } from './log.js';
import type { Layout } from './paths.js';
import { isAdopted, planReconcile, reconcile, releasePath, type AppState } from './reconcile.js';

export interface Removal {
  app: string;
  release: string;
  version: string;
  /** The directory deleted (in a dry run: that would be). */
  path: string;
  adopted: boolean;
  files: number;
  bytes: number;
  /** The first names at the top of the release, dot files first (`.env`, `data.db`, ...). */
  names: string[];
  dryRun: boolean;
}

const NAMES_SHOWN = 8;

export async function removeRelease(layout: Layout, app: string, key: string, opts: { dryRun: boolean; command: string }): Promise<Removal> {
  // A dry run needs no lock: it repairs nothing and deletes nothing.
  const lock = opts.dryRun ? undefined : await acquireLock(layout.lockDir(app), { command: opts.command, waitMs: 0 });
  let trash: string | undefined;
  try {
    const state = opts.dryRun ? await planReconcile(layout, app) : await reconcile(layout, app);
    const r = pick(state, app, key);
    const dir = releasePath(layout, app, r);
    const size = await measure(dir);
    const top = (await fs.readdir(dir).catch(() => [] as string[])).sort((a, b) => Number(b.startsWith('.')) - Number(a.startsWith('.')) || a.localeCompare(b));
    const out: Removal = { app, release: r.id, version: r.version, path: dir, adopted: isAdopted(r), ...size, names: top.slice(0, NAMES_SHOWN), dryRun: opts.dryRun };
    if (opts.dryRun) return out;
    // A rename first, recorded, then the deletion once the lock is let go: a kill in
    // between leaves a trash directory the next deploy or `toes gc` empties.
    trash = layout.trashDir(app, r.id);
    await fs.rename(dir, trash);
    await appendLog(layout.releaseLog(app), [{ ...r, pruned: true }]);
    return out;
  } finally {
    await lock?.release();
    if (trash) await fs.rm(trash, { recursive: true, force: true });
  }
}

function pick(state: AppState, app: string, key: string): ReleaseRecord {
  const hits = state.releases.filter((r) => r.id === key || r.version === key || r.commit === key);
  const r = hits.find((x) => x.id === state.liveId) ?? hits[hits.length - 1];
  if (!r) throw new RevError('RELEASE_NOT_FOUND', `${app} has no release "${key}"; list them with \`toes releases ${app}\` and give a RELEASE id.`, { data: { app, to: key } });
  if (r.id === state.liveId) {
    throw new RevError('USAGE', `Release ${r.id} is the live release of ${app}, so it cannot be removed; deploy or roll back to another release first.`, { data: { app } });
  }
  if (r.pruned || !r.sealed) throw new RevError('RELEASE_NOT_FOUND', `Release ${r.id} of ${app} has no directory left to remove (it is ${r.pruned ? 'pruned' : r.status}); nothing was changed.`, { data: { app, to: key } });
  if (r.path) {
    throw new RevError('USAGE', `Release ${r.id} of ${app} lives at ${r.path}, outside the app's directory, and toes-rev never deletes there; remove that directory yourself if you are sure.`, { data: { app } });
  }
  return r;
}

/** Files and bytes under `dir` (links counted as files, never followed). */
async function measure(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        files++;
        bytes += (await fs.lstat(p).catch(() => null))?.size ?? 0;
      }
    }
  };
  await walk(dir);
  return { files, bytes };
}
