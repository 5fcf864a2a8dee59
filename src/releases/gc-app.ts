// One app's part of a collection, under its lock (the only writer of its git stores):
// deploy logs of pruned releases, git stores of sources no kept release uses, and the
// records of each kept store's object log that neither a tip nor a kept release reaches.
// Pruned release directories and removed stores are deleted after the lock is let go:
// they are out of everyone's sight already, and deleting files can take a while.
import fs from 'node:fs/promises';
import path from 'node:path';
import { isRevError } from '../errors.js';
import { compactStore, listGitStores, removeGitStore } from '../fetch/index.js';
import { isKept, keptStores } from './kept.js';
import { acquireLock } from './lock.js';
import { readLog } from './log.js';
import { isTrashName, type Layout } from './paths.js';

export interface AppCollection {
  /** Pruned release directories deleted (`.trash-*`). */
  releaseDirs: number;
  /** Deploy logs of pruned releases deleted. */
  logs: number;
  /** Git stores of sources no kept release uses, removed. */
  sources: number;
  /** Records dropped from object logs, and their bytes. */
  objects: number;
  objectBytes: number;
}

export interface AppCollectOptions {
  dryRun: boolean;
  command: string;
}

/** Collects one app; `busy` names the holder of its lock when it could not be taken. */
export async function collectApp(layout: Layout, app: string, opts: AppCollectOptions): Promise<AppCollection | { busy: string }> {
  let lock;
  if (!opts.dryRun) {
    try {
      lock = await acquireLock(layout.lockDir(app), { command: opts.command, waitMs: 0 });
    } catch (err) {
      if (isRevError(err, 'LOCKED')) return { busy: `${app} (its lock is held: a deploy or rollback is running)` };
      throw err;
    }
  }
  const out: AppCollection = { releaseDirs: 0, logs: 0, sources: 0, objects: 0, objectBytes: 0 };
  const later: (() => Promise<void>)[] = [];
  try {
    const releases = await readLog(layout.releaseLog(app));
    for (const r of releases) {
      if (!r.pruned || isKept(r)) continue;
      const log = layout.deployLog(app, r.id);
      if (!(await exists(log))) continue;
      out.logs++;
      if (!opts.dryRun) await fs.rm(log, { force: true });
    }
    const appDir = layout.appDir(app);
    for (const n of (await fs.readdir(appDir).catch(() => [] as string[])).filter(isTrashName)) {
      out.releaseDirs++;
      if (!opts.dryRun) later.push(() => fs.rm(path.join(appDir, n), { recursive: true, force: true }));
    }
    const inUse = await keptStores(layout, app);
    for (const store of (await listGitStores(layout.storeRoot)).filter((s) => s.owner === app)) {
      const kept = inUse.get(store.dir);
      if (!kept) {
        out.sources++;
        if (!opts.dryRun) later.push(await removeGitStore(store.dir));
        continue;
      }
      const c = await compactStore(store.dir, kept, opts.dryRun);
      out.objects += c.objects;
      out.objectBytes += c.bytes;
    }
  } finally {
    await lock?.release();
  }
  for (const fn of later) await fn();
  return out;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}
