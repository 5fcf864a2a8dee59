// Brings an app's release log in line with the disk, in two steps: `planReconcile` only
// reads and works out what is to be done (adopt releases made before toes-rev, finish the
// bookkeeping of a deploy that was killed, clear its leftovers) and the state that will
// result; `applyReconcile` does it, under the app's lock. `toes releases` shows the plan;
// every deploy and rollback applies it first, so recovery after kill -9 needs no manual step.
import type { Stats } from 'node:fs';
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
  /** What reconcile repaired (a plan: will repair) beyond the log's bookkeeping, in words. */
  repairs?: string[];
}

/** One change to the disk, in the order a plan lists them. */
export type ReconcileStep =
  | { kind: 'stop-build'; pgid: number }
  | { kind: 'remove'; path: string }
  /** A plain `current` directory renamed to its release id (the adoption of a deploy.sh install). */
  | { kind: 'adopt-dir'; from: string; to: string }
  | { kind: 'point-current'; target: string };

/** What reconcile will do, and the state the app will be in once it is done. */
export interface ReconcilePlan extends AppState {
  repairs: string[];
  steps: ReconcileStep[];
  /** Records to append to the release log. */
  records: ReleaseRecord[];
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
 * The id a plain `current` directory is adopted as: its own mtime as a Toes timestamp (the
 * next free second if taken), so the id `toes releases` announces is the one the adoption
 * makes, however much later it happens.
 */
export function adoptionId(appDir: string, taken: Set<string>, mtime: Date): string {
  return newReleaseId(appDir, taken, mtime);
}

/** Works out, reading only, what reconcile will change and the state it will leave. */
export async function planReconcile(layout: Layout, app: string, now: () => Date = () => new Date()): Promise<ReconcilePlan> {
  const appDir = layout.appDir(app);
  const link = layout.currentLink(app);
  // Only reads, all at once (one round trip, not six: this runs before every rollback).
  // A leftover known to be absent (ENOENT) is not removed again.
  const absent = (err: NodeJS.ErrnoException) => err.code === 'ENOENT';
  const [logged, names, pgidText, scratch, found] = await Promise.all([
    readLog(layout.releaseLog(app)),
    fs.readdir(appDir).catch(() => [] as string[]),
    fs.readFile(layout.buildPgid(app), 'utf8').catch((err) => (absent(err) ? null : '')),
    fs.readdir(layout.tmpDir(app)).catch((err) => (absent(err) ? null : [])),
    readCurrent(link),
  ]);
  const steps: ReconcileStep[] = [];
  const records: ReleaseRecord[] = [];
  const repairs: string[] = [];
  const stamp = now().toISOString();
  const byId = new Map(logged.map((r) => [r.id, r]));

  // A build whose deploy was killed may still run: stop its whole process group first.
  const pgid = Number(pgidText ?? '');
  if (Number.isInteger(pgid) && pgid > 1) {
    repairs.push(`stop the build (process group ${pgid}) a killed deploy may have left running`);
    steps.push({ kind: 'stop-build', pgid });
  }
  // Leftovers of an interrupted deploy: scratch files, staging trees, half-made symlinks.
  // Pruned releases (trash) are emptied by the caller, off the critical path.
  if (pgidText !== null) steps.push({ kind: 'remove', path: layout.buildPgid(app) });
  if (scratch?.length) repairs.push('remove the scratch files of an interrupted fetch');
  if (scratch !== null) steps.push({ kind: 'remove', path: layout.tmpDir(app) });
  const interrupted = names.filter(isInterruptedName);
  if (interrupted.length) repairs.push(`remove ${interrupted.join(', ')}, left by an interrupted deploy`);
  for (const n of interrupted) steps.push({ kind: 'remove', path: path.join(appDir, n) });

  // A plain `current` directory (an rsync deploy.sh) becomes a release of its own, named
  // for its own mtime. Its stat is kept: after the rename it is found under that name.
  let cur: CurrentState = found;
  const statOf = new Map<string, Stats>();
  const pointAt = (target: string): CurrentState => {
    steps.push({ kind: 'point-current', target });
    return { kind: 'link', target, abs: path.resolve(appDir, target) };
  };
  if (cur.kind === 'dir') {
    const st = await fs.stat(link);
    const id = adoptionId(appDir, new Set(byId.keys()), st.mtime);
    repairs.push(`adopt the plain directory \`current\` as release ${id}`);
    steps.push({ kind: 'adopt-dir', from: link, to: path.join(appDir, id) });
    statOf.set(id, st);
    names.push(id);
    cur = pointAt(id);
  }

  // Toes timestamp directories the log has never seen: adopt them, oldest name first.
  for (const n of names.filter((n) => RELEASE_DIR.test(n) && !byId.has(n)).sort()) {
    const st = statOf.get(n) ?? (await fs.stat(path.join(appDir, n)).catch(() => null));
    if (!st?.isDirectory()) continue;
    const rec: ReleaseRecord = { id: n, version: `adopted-${n}`, kind: 'adopted', status: 'previous', createdAt: st.mtime.toISOString(), trigger: 'adopt', sealed: true };
    records.push(rec);
    byId.set(n, rec);
  }
  // `current` pointing at something else we never recorded (e.g. current -> /srv/app-v3).
  const seen: CurrentState = cur;
  if (seen.kind === 'link' && ![...byId.values()].some((r) => releasePath(layout, app, r) === seen.abs) && (await exists(seen.abs))) {
    const inside = path.dirname(seen.abs) === appDir;
    const rec: ReleaseRecord = {
      id: inside ? path.basename(seen.abs) : `adopted-${path.basename(seen.abs)}`,
      version: `adopted-${path.basename(seen.abs)}`,
      kind: 'adopted',
      status: 'live',
      createdAt: stamp,
      trigger: 'adopt',
      sealed: true,
      ...(inside ? {} : { path: seen.abs }),
    };
    records.push(rec);
    byId.set(rec.id, rec);
  }

  if (cur.kind === 'missing' && byId.size > 0) {
    // `current` vanished (a kill while adopting a plain directory, or removed by hand):
    // point it back at the release the log calls live, else the newest sealed one.
    const all = [...byId.values()];
    const usable = async (r: ReleaseRecord) => !!r.sealed && !r.pruned && (await exists(releasePath(layout, app, r)));
    for (const r of [...all.filter((x) => x.status === 'live'), ...all.filter((x) => x.status !== 'bad' && x.status !== 'failed').reverse()]) {
      if (await usable(r)) {
        repairs.push(`point the missing \`current\` back at release ${r.id}`);
        cur = pointAt(r.path ?? r.id);
        break;
      }
    }
  }
  const final: CurrentState = cur;
  const liveRec = final.kind === 'link' ? [...byId.values()].find((r) => releasePath(layout, app, r) === final.abs) : undefined;
  for (const r of byId.values()) {
    if (liveRec && r.id === liveRec.id) {
      // The swap is the commit point: a release `current` points at is live, whatever the
      // log said when the process recording it was killed.
      if (r.status !== 'live' || !r.sealed) records.push({ ...r, status: 'live', sealed: true, finishedAt: r.finishedAt ?? stamp });
    } else if (r.status === 'building') {
      // Applied under the lock (or, in a plan, seen free), so whoever was building is gone.
      repairs.push(`mark release ${r.id}, left building by a process that is gone, failed`);
      if (!r.path) steps.push({ kind: 'remove', path: layout.releaseDir(app, r.id) });
      records.push({ ...r, status: 'failed', sealed: false, finishedAt: stamp, error: { code: 'INTERRUPTED', message: 'The deploy was interrupted before it went live.' } });
    } else if (r.status === 'live') {
      records.push({ ...r, status: 'previous' });
    } else if (r.sealed && !r.pruned && !(await exists(releasePath(layout, app, r)))) {
      records.push({ ...r, pruned: true }); // removed by hand: no longer a rollback target
    }
  }
  return { app, releases: foldRecords([...logged, ...records]), liveId: liveRec?.id, repairs, steps, records };
}

/** Carries out a plan; the caller holds the app's lock. Returns the state as the log now says. */
export async function applyReconcile(layout: Layout, plan: ReconcilePlan): Promise<AppState> {
  const link = layout.currentLink(plan.app);
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'stop-build':
        try {
          process.kill(-step.pgid, 'SIGKILL');
        } catch {}
        break;
      case 'remove':
        await fs.rm(step.path, { recursive: true, force: true });
        break;
      case 'adopt-dir':
        await fs.rename(step.from, step.to);
        break;
      case 'point-current':
        await swapCurrent(link, step.target);
        break;
    }
  }
  await appendLog(layout.releaseLog(plan.app), plan.records);
  const releases = plan.records.length ? await readLog(layout.releaseLog(plan.app)) : plan.releases;
  return { app: plan.app, releases, liveId: plan.liveId, repairs: plan.repairs };
}

/** Plans and applies at once: what every deploy and rollback does first, under the lock. */
export async function reconcile(layout: Layout, app: string, now: () => Date = () => new Date()): Promise<AppState> {
  return applyReconcile(layout, await planReconcile(layout, app, now));
}

export function isGood(r: ReleaseRecord): boolean {
  return !!r.sealed && !r.pruned && (r.status === 'live' || r.status === 'previous' || r.status === 'rolled-back');
}

/** Adopted from before toes-rev: may hold the only copy of files git never had. */
export function isAdopted(r: ReleaseRecord): boolean {
  return r.kind === 'adopted';
}

/** The release a plain rollback goes to: the newest good release before the live one. */
export function rollbackTarget(state: AppState): ReleaseRecord | undefined {
  const i = state.releases.findIndex((r) => r.id === state.liveId);
  const before = i < 0 ? state.releases : state.releases.slice(0, i);
  return [...before].reverse().find((r) => isGood(r) && r.status !== 'rolled-back');
}
