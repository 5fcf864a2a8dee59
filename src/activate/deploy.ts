// `toes deploy`: runs the deploy flow (flows.ts) and reports it as one result, whatever
// fails, the app's settings included (they are its first stage).
import { BlobStore } from '../fetch/index.js';
import type { AppSettings } from '../releases/settings/schema.js';
import { beforeSettings, type DeployCtx, type DeployRequest, type Engine } from './context.js';
import { deployHooks } from './flow-hooks.js';
import { deployFlow, deployPreviewFlow } from './flows.js';
import { runFlow, type OpResult } from './run-flow.js';

export type { DeployRequest, Engine } from './context.js';

export async function deploy(engine: Engine, req: DeployRequest): Promise<OpResult> {
  const { layout } = engine;
  const ctx: DeployCtx = {
    op: 'deploy',
    engine,
    req,
    layout,
    app: req.app,
    trigger: req.trigger ?? 'cli',
    waitMs: req.waitMs ?? 600_000,
    settings: beforeSettings<AppSettings>('the settings'),
    env: beforeSettings<Record<string, string>>("the app's env"),
    processEnv: beforeSettings<Record<string, string>>("the app's env"),
    now: engine.now,
    say: (text) => (ctx.build ? ctx.build.log.write(text) : engine.events?.onText?.(text)),
    notes: [],
    warnings: [],
    blobs: new BlobStore(layout.blobsRoot),
    deadline: Number.NaN, // set by the settings stage
  };
  return runFlow(req.dryRun ? deployPreviewFlow : deployFlow, ctx, deployHooks, engine.events);
}
