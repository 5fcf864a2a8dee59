// `toes rollback`: flip `current` to an older (or, given VERSION, any) sealed release.
// No fetch, no build: a rename(2) and a line in the release log.
import { RevError } from '../errors.js';
import { appendLog, type ReleaseRecord } from '../releases/log.js';
import { acquireLock, type Lock } from '../releases/lock.js';
import { swapCurrent } from '../releases/current.js';
import { isGood, releasePath, rollbackTarget, type AppState } from '../releases/reconcile.js';
import { readCurrent } from '../releases/current.js';
import { effectiveConfig, effectiveEnv, type Settings } from '../releases/settings.js';
import { beginActivation, endActivation, recoverApp, revert, unhealthy, verify, type ActivationEnv } from './activation.js';
import { appProcessEnv } from './build.js';
import { runFlow, type OpResult, type Stage } from './flow.js';
import type { Engine } from './deploy.js';

export interface RollbackRequest {
  app: string;
  /** A release id, a version (commit) or a unique prefix of either. */
  to?: string;
  trigger?: string;
  waitMs?: number;
}

interface RollbackCtx {
  engine: Engine;
  req: RollbackRequest;
  settings: Settings;
  env: Record<string, string>;
  fromLink?: string;
  notes: string[];
  lock?: Lock;
  state?: AppState;
  from?: ReleaseRecord;
  target?: ReleaseRecord;
  unchanged?: boolean;
}

export function findRelease(releases: ReleaseRecord[], key: string): ReleaseRecord[] {
  const exact = releases.filter((r) => r.id === key || r.version === key || r.commit === key);
  if (exact.length) return exact;
  if (key.length < 4) return [];
  return releases.filter((r) => r.id.startsWith(key) || r.version.startsWith(key));
}

async function lock(c: RollbackCtx): Promise<void> {
  c.lock = await acquireLock(c.engine.layout.lockDir(c.req.app), {
    command: `rollback (${c.req.trigger ?? 'cli'})`,
    waitMs: c.req.waitMs ?? 600_000,
    onWait: (holder) => c.engine.events?.onText?.(`waiting for the lock held by ${holder}\n`),
  });
}

function activationEnv(c: RollbackCtx): ActivationEnv {
  return { layout: c.engine.layout, app: c.req.app, settings: c.settings, env: appProcessEnv(c.env), now: c.engine.now, say: (t) => c.engine.events?.onText?.(t) };
}

async function recover(c: RollbackCtx): Promise<void> {
  const { state, note } = await recoverApp(activationEnv(c));
  c.state = state;
  if (note) c.notes.push(note);
  if (c.state.releases.length === 0) {
    throw new RevError('UNKNOWN_APP', `${c.req.app} has no releases; deploy it first with \`toes deploy ${c.req.app} --from <source>\`.`, { data: { app: c.req.app } });
  }
  c.from = c.state.releases.find((r) => r.id === c.state!.liveId);
}

async function choose(c: RollbackCtx): Promise<void> {
  const { app, to } = c.req;
  if (!to) {
    c.target = rollbackTarget(c.state!);
    if (!c.target) {
      throw new RevError('NO_ROLLBACK_TARGET', `${app} has no earlier good release to roll back to; nothing was changed.`, { data: { app } });
    }
    return;
  }
  const hits = findRelease(c.state!.releases, to);
  const usable = [...hits].reverse().filter(isGood);
  if (hits.length === 0) {
    throw new RevError('RELEASE_NOT_FOUND', `${app} has no release "${to}"; list them with \`toes releases ${app}\`.`, { data: { app, to } });
  }
  if (usable.length === 0) {
    const r = hits[hits.length - 1];
    const why = r.pruned ? 'was pruned from disk' : `is ${r.status}`;
    throw new RevError('RELEASE_NOT_FOUND', `Release ${r.id} of ${app} ${why}, so it cannot go live; deploy that version again instead.`, { data: { app, to } });
  }
  if (new Set(usable.map((r) => r.id)).size > 1 && !usable.some((r) => r.id === to)) {
    // Several releases of the same version are the same content: the newest will do,
    // but a prefix matching different versions is ambiguous.
    if (new Set(usable.map((r) => r.version)).size > 1) {
      throw new RevError('USAGE', `"${to}" matches several releases of ${app} (${usable.map((r) => r.id).join(', ')}); give more characters.`);
    }
  }
  c.target = usable[0];
  if (c.target.id === c.state!.liveId) c.unchanged = true;
}

async function swap(c: RollbackCtx): Promise<void> {
  await c.lock!.verify();
  const link = c.engine.layout.currentLink(c.req.app);
  const cur = await readCurrent(link);
  c.fromLink = cur.kind === 'link' ? cur.target : undefined;
  await beginActivation(c.engine.layout, c.req.app, { release: c.target!.id, previous: c.fromLink, previousId: c.from?.id });
  await swapCurrent(link, c.target!.path ?? c.target!.id);
}

async function verifyStage(c: RollbackCtx): Promise<void> {
  const ax = activationEnv(c);
  const v = await verify(ax, c.target!.id, releasePath(c.engine.layout, c.req.app, c.target!));
  if (v.warning) c.notes.push(v.warning);
  if (v.ok) return;
  const message = await revert(ax, c.target!.id, c.fromLink, c.from?.id, v.reason!);
  throw unhealthy(message, { release: c.target!.id, supervisor: v.supervisor });
}

async function record(c: RollbackCtx): Promise<void> {
  const records: ReleaseRecord[] = [];
  if (c.from) {
    // Moving back marks the release we left; moving forward leaves it a plain previous one.
    const idx = (r: ReleaseRecord) => c.state!.releases.findIndex((x) => x.id === r.id);
    records.push({ ...c.from, status: idx(c.target!) < idx(c.from) ? 'rolled-back' : 'previous' });
  }
  records.push({ ...c.target!, status: 'live' });
  await appendLog(c.engine.layout.releaseLog(c.req.app), records);
  await endActivation(c.engine.layout, c.req.app);
}

export const rollbackStages: Stage<RollbackCtx>[] = [
  { name: 'lock', run: lock },
  { name: 'recover', run: recover },
  { name: 'choose', run: choose },
  { name: 'swap', run: swap, skip: (c) => !!c.unchanged, activating: true },
  { name: 'verify', run: verifyStage, skip: (c) => !!c.unchanged },
  { name: 'record', run: record, skip: (c) => !!c.unchanged },
];

export async function rollback(engine: Engine, req: RollbackRequest): Promise<OpResult> {
  const ctx: RollbackCtx = { engine, req, settings: await effectiveConfig(engine.layout, req.app), env: await effectiveEnv(engine.layout, req.app), notes: [] };
  return runFlow(rollbackStages, ctx, {
    async failed() {},
    async finally(c) {
      await c.lock?.release();
    },
    result(c) {
      return {
        op: 'rollback',
        app: req.app,
        release: c.target?.id,
        version: c.target?.version,
        commit: c.target?.commit,
        status: c.unchanged ? 'unchanged' : 'live',
        unchanged: !!c.unchanged,
        previous: c.from?.id,
        notes: c.notes.length ? c.notes : undefined,
      };
    },
  }, engine.events);
}
