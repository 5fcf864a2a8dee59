// `toes rollback`: runs the rollback flow (flows.ts): no fetch, no build, a rename(2) and
// a line in the release log.
import { settingsAndEnv } from '../releases/settings.js';
import { appProcessEnv } from './build.js';
import { liveBefore, type Engine, type RollbackCtx, type RollbackRequest } from './context.js';
import { rollbackFlow } from './flows.js';
import { runFlow, type OpResult } from './run-flow.js';
import { alreadyLive } from './stages/swap.js';

export type { RollbackRequest } from './context.js';

export async function rollback(engine: Engine, req: RollbackRequest): Promise<OpResult> {
  const { layout } = engine;
  const { settings, env } = await settingsAndEnv(layout, req.app);
  const ctx: RollbackCtx = {
    op: 'rollback',
    engine,
    req,
    layout,
    app: req.app,
    trigger: req.trigger ?? 'cli',
    waitMs: req.waitMs ?? 600_000,
    settings,
    env,
    processEnv: appProcessEnv(env),
    now: engine.now,
    say: (text) => engine.events?.onText?.(text),
    notes: [],
  };
  return runFlow(rollbackFlow, ctx, {
    async failed() {},
    async finally(c) {
      await c.lock?.release();
    },
    result(c) {
      const unchanged = alreadyLive(c) !== undefined;
      return {
        op: 'rollback',
        app: req.app,
        release: c.target?.id,
        version: c.target?.version,
        commit: c.target?.commit,
        status: unchanged ? 'unchanged' : 'live',
        unchanged,
        previous: liveBefore(c)?.id,
        notes: c.notes.length ? c.notes : undefined,
      };
    },
  }, engine.events);
}
