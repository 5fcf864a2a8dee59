// What runs around the stages of flows.ts: the `failed` hook (what a failure leaves behind is
// cleaned up here, once), `finally` (what every run lets go of), and the one result each
// flow reports, success or failure alike.
import fs from 'node:fs/promises';
import { appendLog } from '../releases/log.js';
import { liveBefore, type DeployCtx, type RollbackCtx } from './context.js';
import type { FlowHooks } from './run-flow.js';
import { collect } from './stages/prune.js';
import { alreadyLive } from './stages/swap.js';

export const deployHooks: FlowHooks<DeployCtx> = {
  async failed(c, err, stage) {
    if (!c.build || c.activation) return; // nothing built, or the activation settled it
    const { build, layout, app } = c;
    await fs.rm(build.staging, { recursive: true, force: true });
    if (build.sealed) await fs.rm(layout.releaseDir(app, build.record.id), { recursive: true, force: true });
    const logTail = typeof err.data.logTail === 'string' ? err.data.logTail : undefined;
    build.log.write(`failed in ${stage}: ${err.message}\n`);
    await appendLog(layout.releaseLog(app), [
      { ...build.record, status: 'failed', sealed: false, finishedAt: c.now().toISOString(), error: { code: err.code, message: err.message, stage, ...(logTail ? { logTail } : {}) } },
    ]);
  },
  skipped(c, stage, reason) {
    c.build?.log.write(`${stage} skipped: ${reason}\n`);
  },
  async finally(c) {
    await c.storeUse?.leave();
    await c.trash;
    await c.lock?.release();
    await collect(c);
    c.build?.log.close();
  },
  result(c) {
    const live = c.target ?? c.build?.record;
    const unchanged = c.decision?.kind === 'unchanged';
    return {
      op: 'deploy',
      app: c.app,
      release: live?.id,
      version: live?.version ?? c.probe?.version ?? c.snapshot?.version,
      commit: live?.commit ?? c.snapshot?.commit,
      status: unchanged || c.req.dryRun ? 'unchanged' : 'live',
      dryRun: c.req.dryRun || undefined,
      reused: c.decision?.kind === 'reuse',
      unchanged,
      previous: liveBefore(c)?.id,
      bytesFetched: c.snapshot?.bytesFetched ?? 0,
      pruned: c.pruned,
      restarted: c.restarted,
      notes: c.notes.length ? c.notes : undefined,
      warnings: c.warnings.length ? c.warnings : undefined,
      log: c.build ? c.layout.deployLog(c.app, c.build.record.id) : undefined,
    };
  },
};

export const rollbackHooks: FlowHooks<RollbackCtx> = {
  async failed() {},
  async finally(c) {
    await c.lock?.release();
  },
  result(c) {
    const unchanged = alreadyLive(c) !== undefined;
    return {
      op: 'rollback',
      app: c.app,
      release: c.target?.id,
      version: c.target?.version,
      commit: c.target?.commit,
      status: unchanged ? 'unchanged' : 'live',
      unchanged,
      previous: liveBefore(c)?.id,
      restarted: c.restarted,
      notes: c.notes.length ? c.notes : undefined,
      warnings: c.warnings.length ? c.warnings : undefined,
    };
  },
};
