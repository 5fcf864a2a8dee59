// Brings an app's release log in line with the disk, under the app's lock: adopts
// releases made before toes-rev, finishes the bookkeeping of a deploy that was killed,
// and clears its leftovers. Called before every deploy and rollback, so recovery after
// kill -9 needs no manual step. A dry run (for `toes releases`) works out the same state
// in memory and says what it would repair, without writing, renaming or stopping anything.
import fs from 'node:fs/promises';
import path from 'node:path';
import { appendLog, foldRecords, readLog, type ReleaseRecord } from './log.js';
import { readCurrent, swapCurrent, type CurrentState } from './current.js';
import { newReleaseId } from './naming.js';
import { RELEASE_DIR, isInterruptedName, type Layout } from './paths.js';

export interface AppState {
  app: string;
  releases: ReleaseRecord[];
  /** The id of the release `current` points at, if it is in the log. */
  liveId?: string;
  /** What reconcile repaired (a dry run: would repair) beyond the log's bookkeeping, in words. */
  repairs?: string[];
}

export function releasePath(layout: Layout, app: string, r: ReleaseRecord): string {
  return r.path ?? layout.releaseDir(app, r.id);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** The log as it stands, with the live release taken from `current` (read-only). */
export async function loadApp(layout: Layout, app: string): Promise<AppState> {
  const releases = await readLog(layout.releaseLog(app));
  const cur = await readCurrent(layout.currentLink(app));
  let liveId: string | undefined;
  if (cur.kind === 'link') liveId = releases.find((r) => releasePath(layout, app, r) === cur.abs)?.id;
  return { app, releases, liveId };
}

/**
 * Repairs the log and the app directory; the caller holds the app's lock. With `dryRun`
 * nothing is changed and no lock is needed: the state returned is the repaired one, and
 * `repairs` lists what the next deploy or rollback will do.
 */
export async function reconcile(layout: Layout, app: string, now: () => Date = () => new Date(), opts: { dryRun?: boolean } = {}): Promise<AppState> {
  const dry = !!opts.dryRun;
  const appDir = layout.appDir(app);
  const logFile = layout.releaseLog(app);
  const link = layout.currentLink(app);
  // Only reads, all at once (one round trip, not six: this runs before every rollback).
  // Removing the leftovers below never touches `current`, so it is read here too. A
  // leftover known to be absent (ENOENT) is not removed again.
  const absent = (err: NodeJS.ErrnoException) => err.code === 'ENOENT';
  const [logged, names, pgidText, scratch, found] = await Promise.all([
    readLog(logFile),
    fs.readdir(appDir).catch(() => [] as string[]),
    fs.readFile(layout.buildPgid(app), 'utf8').catch((err) => (absent(err) ? null : '')),
    fs.readdir(layout.tmpDir(app)).catch((err) => (absent(err) ? null : [])),
    readCurrent(link),
  ]);
  let releases = logged;
  const fixes: ReleaseRecord[] = [];
  const repairs: string[] = [];
  const stamp = now().toISOString();
  const byId = new Map(releases.map((r) => [r.id, r]));

  // A build whose deploy was killed may still run: stop its whole process group first.
  const pgid = Number(pgidText ?? '');
  if (Number.isInteger(pgid) && pgid > 1) {
    repairs.push(`stop the build (process group ${pgid}) a killed deploy may have left running`);
    if (!dry) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {}
    }
  }
  // Leftovers of an interrupted deploy: scratch files, staging trees, half-made symlinks.
  if (scratch?.length) repairs.push('remove the scratch files of an interrupted fetch');
  const interrupted = names.filter(isInterruptedName);
  if (interrupted.length) repairs.push(`remove ${interrupted.join(', ')}, left by an interrupted deploy`);
  if (!dry) {
    if (pgidText !== null) await fs.rm(layout.buildPgid(app), { force: true });
    if (scratch !== null) await fs.rm(layout.tmpDir(app), { recursive: true, force: true });
    for (const n of interrupted) await fs.rm(path.join(appDir, n), { recursive: true, force: true });
    // Pruned releases (trash) are emptied by the caller, off the critical path.
  }

  // A plain `current` directory (an rsync deploy.sh) becomes a release of its own.
  // Where `current` points once repaired; a dry run only imagines the link.
  const pointAt = async (target: string): Promise<CurrentState> => {
    if (!dry) {
      await swapCurrent(link, target);
      return readCurrent(link);
    }
    return { kind: 'link', target, abs: path.resolve(appDir, target) };
  };
  let cur = found;
  let plainDir: string | undefined;
  if (cur.kind === 'dir') {
    const id = newReleaseId(appDir, new Set(byId.keys()), now());
    repairs.push(`adopt the plain directory \`current\` as release ${id}`);
    if (!dry) await fs.rename(link, path.join(appDir, id));
    plainDir = id;
    names.push(id);
    cur = await pointAt(id);
  }

  // Toes timestamp directories the log has never seen: adopt them, oldest name first.
  for (const n of names.filter((n) => RELEASE_DIR.test(n) && !byId.has(n)).sort()) {
    const st = await fs.stat(dry && n === plainDir ? link : path.join(appDir, n)).catch(() => null);
    if (!st?.isDirectory()) continue;
    const rec: ReleaseRecord = { id: n, version: `adopted-${n}`, kind: 'adopted', status: 'previous', createdAt: st.mtime.toISOString(), trigger: 'adopt', sealed: true };
    fixes.push(rec);
    byId.set(n, rec);
  }
  // `current` pointing at something else we never recorded (e.g. current -> /srv/app-v3).
  const seen = cur;
  if (seen.kind === 'link' && ![...byId.values()].some((r) => releasePath(layout, app, r) === seen.abs) && (await exists(seen.abs))) {
    const cur = seen;
    const inside = path.dirname(cur.abs) === appDir;
    const rec: ReleaseRecord = {
      id: inside ? path.basename(cur.abs) : `adopted-${path.basename(cur.abs)}`,
      version: `adopted-${path.basename(cur.abs)}`,
      kind: 'adopted',
      status: 'live',
      createdAt: stamp,
      trigger: 'adopt',
      sealed: true,
      ...(inside ? {} : { path: cur.abs }),
    };
    fixes.push(rec);
    byId.set(rec.id, rec);
  }

  if (cur.kind === 'missing' && byId.size > 0) {
    // `current` vanished (a kill while adopting a plain directory, or removed by hand):
    // point it back at the release the log calls live, else the newest sealed one.
    const all = [...byId.values()];
    const usable = async (r: ReleaseRecord) => !!r.sealed && !r.pruned && (await exists(releasePath(layout, app, r)));
    let pick: ReleaseRecord | undefined;
    for (const r of [...all.filter((x) => x.status === 'live'), ...all.filter((x) => x.status !== 'bad' && x.status !== 'failed').reverse()]) {
      if (await usable(r)) {
        pick = r;
        break;
      }
    }
    if (pick) {
      repairs.push(`point the missing \`current\` back at release ${pick.id}`);
      cur = await pointAt(pick.path ?? pick.id);
    }
  }
  const final = cur;
  const liveRec = final.kind === 'link' ? [...byId.values()].find((r) => releasePath(layout, app, r) === final.abs) : undefined;
  for (const r of byId.values()) {
    if (liveRec && r.id === liveRec.id) {
      // The swap is the commit point: a release `current` points at is live, whatever the
      // log said when the process recording it was killed.
      if (r.status !== 'live' || !r.sealed) fixes.push({ ...r, status: 'live', sealed: true, finishedAt: r.finishedAt ?? stamp });
    } else if (r.status === 'building') {
      // We hold the lock (or, in a dry run, saw it free), so whoever was building is gone.
      repairs.push(`mark release ${r.id}, left building by a process that is gone, failed`);
      if (!r.path && !dry) await fs.rm(layout.releaseDir(app, r.id), { recursive: true, force: true });
      fixes.push({ ...r, status: 'failed', sealed: false, finishedAt: stamp, error: { code: 'INTERRUPTED', message: 'The deploy was interrupted before it went live.' } });
    } else if (r.status === 'live') {
      fixes.push({ ...r, status: 'previous' });
    } else if (r.sealed && !r.pruned && !(await exists(releasePath(layout, app, r)))) {
      fixes.push({ ...r, pruned: true }); // removed by hand: no longer a rollback target
    }
  }
  if (dry) releases = foldRecords([...releases, ...fixes]);
  else {
    await appendLog(logFile, fixes);
    releases = fixes.length ? await readLog(logFile) : releases;
  }
  return { app, releases, liveId: liveRec?.id, repairs };
}

export function isGood(r: ReleaseRecord): boolean {
  return !!r.sealed && !r.pruned && (r.status === 'live' || r.status === 'previous' || r.status === 'rolled-back');
}

/** The release a plain rollback goes to: the newest good release before the live one. */
export function rollbackTarget(state: AppState): ReleaseRecord | undefined {
  const i = state.releases.findIndex((r) => r.id === state.liveId);
  const before = i < 0 ? state.releases : state.releases.slice(0, i);
  return [...before].reverse().find((r) => isGood(r) && r.status !== 'rolled-back');
}
