// Retention: keep the newest N good releases; failed and bad ones never count; the live
// release and the one a rollback would go to are never removed. Adopted releases (made
// before toes-rev) neither count nor go: they may hold the only copy of an `.env` or a data
// file, so only `toes releases remove` deletes one. Only directories the log knows and
// that sit beside `current` are ever deleted.
import fs from 'node:fs/promises';
import path from 'node:path';
import { appendLog, type ReleaseRecord } from './log.js';
import { isTrashName, type Layout } from './paths.js';
import { isAdopted, isGood, rollbackTarget, type AppState } from './reconcile.js';

export async function prune(layout: Layout, state: AppState, keep: number): Promise<string[]> {
  const keepIds = new Set<string>();
  if (state.liveId) keepIds.add(state.liveId);
  const target = rollbackTarget(state);
  if (target) keepIds.add(target.id);
  const good = state.releases.filter((r) => isGood(r) && !isAdopted(r));
  for (const r of good.slice(-keep)) keepIds.add(r.id);
  const doomed = state.releases.filter((r) => r.sealed && !r.pruned && !r.path && !isAdopted(r) && !keepIds.has(r.id));
  const records: ReleaseRecord[] = [];
  for (const r of doomed) {
    // A rename now; the files go in the background of the next deploy (see emptyTrash).
    await fs.rename(layout.releaseDir(state.app, r.id), layout.trashDir(state.app, r.id)).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
    records.push({ ...r, pruned: true });
  }
  await appendLog(layout.releaseLog(state.app), records);
  return doomed.map((r) => r.id);
}

/**
 * Removes pruned releases moved aside by earlier deploys. Started early in a deploy and
 * awaited at its end, so the deletions overlap the network wait instead of adding to it.
 */
export async function emptyTrash(layout: Layout, app: string): Promise<void> {
  const appDir = layout.appDir(app);
  const names = await fs.readdir(appDir).catch(() => [] as string[]);
  await Promise.all(names.filter(isTrashName).map((n) => fs.rm(path.join(appDir, n), { recursive: true, force: true })));
}
