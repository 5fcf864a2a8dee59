// `toes deploy`: runs the deploy flow (flows.ts) and reports it as one result. What a
// failure leaves behind is cleaned up here, in the one `failed` hook.
import fs from 'node:fs/promises';
import { BlobStore } from '../fetch/index.js';
import { appendLog } from '../releases/log.js';
import { settingsAndEnv } from '../releases/settings.js';
import { appProcessEnv } from './build.js';
import { liveBefore, type DeployCtx, type DeployRequest, type Engine } from './context.js';
import { deployFlow, deployPreviewFlow } from './flows.js';
import { collect } from './stages/prune.js';
import { runFlow, type OpResult } from './run-flow.js';

export type { DeployRequest, Engine } from './context.js';

export async function deploy(engine: Engine, req: DeployRequest): Promise<OpResult> {
  const { layout } = engine;
  const { app } = req;
  const { settings, env } = await settingsAndEnv(layout, app);
  const ctx: DeployCtx = {
    op: 'deploy',
    engine,
    req,
    layout,
    app,
    trigger: req.trigger ?? 'cli',
    waitMs: req.waitMs ?? 600_000,
    settings,
    env,
    processEnv: { ...appProcessEnv(env), TOES_APP: app },
    now: engine.now,
    say: (text) => (ctx.build ? ctx.build.log.write(text) : engine.events?.onText?.(text)),
    notes: [],
    warnings: [],
    blobs: new BlobStore(layout.blobsRoot),
    deadline: Date.now() + settings.buildTimeout * 1000,
  };
  return runFlow(req.dryRun ? deployPreviewFlow : deployFlow, ctx, {
    async failed(c, err, stage) {
      if (!c.build || c.activation) return; // nothing built, or the activation settled it
      const { build } = c;
      await fs.rm(build.staging, { recursive: true, force: true });
      if (build.sealed) await fs.rm(layout.releaseDir(app, build.record.id), { recursive: true, force: true });
      const logTail = typeof err.data.logTail === 'string' ? err.data.logTail : undefined;
      build.log.write(`failed in ${stage}: ${err.message}\n`);
      await appendLog(layout.releaseLog(app), [
        { ...build.record, status: 'failed', sealed: false, finishedAt: engine.now().toISOString(), error: { code: err.code, message: err.message, stage, ...(logTail ? { logTail } : {}) } },
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
        app,
        release: live?.id,
        version: live?.version ?? c.probe?.version ?? c.snapshot?.version,
        commit: live?.commit ?? c.snapshot?.commit,
        status: unchanged || req.dryRun ? 'unchanged' : 'live',
        dryRun: req.dryRun || undefined,
        reused: c.decision?.kind === 'reuse',
        unchanged,
        previous: liveBefore(c)?.id,
        bytesFetched: c.snapshot?.bytesFetched ?? 0,
        pruned: c.pruned,
        notes: c.notes.length ? c.notes : undefined,
        warnings: c.warnings.length ? c.warnings : undefined,
        log: c.build ? layout.deployLog(app, c.build.record.id) : undefined,
      };
    },
  }, engine.events);
}
