// `toes rollback`: runs the rollback flow (flows.ts): no fetch, no build, a rename(2) and
// a line in the release log; one result, whatever fails, the app's settings included.
import type { AppSettings } from '../releases/settings/schema.js';
import { beforeSettings, type Engine, type RollbackCtx, type RollbackRequest } from './context.js';
import { rollbackHooks } from './flow-hooks.js';
import { rollbackFlow } from './flows.js';
import { runFlow, type OpResult } from './run-flow.js';

export type { RollbackRequest } from './context.js';

export async function rollback(engine: Engine, req: RollbackRequest): Promise<OpResult> {
  const ctx: RollbackCtx = {
    op: 'rollback',
    engine,
    req,
    layout: engine.layout,
    app: req.app,
    trigger: req.trigger ?? 'cli',
    waitMs: req.waitMs ?? 600_000,
    settings: beforeSettings<AppSettings>('the settings'),
    env: beforeSettings<Record<string, string>>("the app's env"),
    processEnv: beforeSettings<Record<string, string>>("the app's env"),
    now: engine.now,
    say: (text) => engine.events?.onText?.(text),
    notes: [],
    warnings: [],
  };
  return runFlow(rollbackFlow, ctx, rollbackHooks, engine.events);
}
