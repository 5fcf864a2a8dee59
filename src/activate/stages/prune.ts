// prune: keep the newest `keep` good releases; the live one and the rollback target always stay.
import { reconcile } from '../../releases/reconcile.js';
import { prune as pruneReleases } from '../../releases/retention.js';
import type { DeployCtx } from '../context.js';

export async function prune(c: DeployCtx): Promise<void> {
  const state = await reconcile(c.layout, c.app, c.engine.now);
  c.pruned = await pruneReleases(c.layout, state, c.settings.keep);
}
