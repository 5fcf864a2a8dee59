// prune: keep the newest `keep` good releases; the live one and the rollback target always
// stay. What the pruned releases alone used is then given back at once: their directories,
// their deploy logs, the objects and blobs nothing kept needs (releases/gc.ts). The new
// release is live already, so this only delays the command's exit; it never waits for a
// deploy of another app (a busy store is left for the next collection) and never fails
// the deploy.
import { collectGarbage } from '../../releases/gc.js';
import { reconcile } from '../../releases/reconcile.js';
import { prune as pruneReleases } from '../../releases/retention.js';
import type { DeployCtx } from '../context.js';

export async function prune(c: DeployCtx): Promise<void> {
  const state = await reconcile(c.layout, c.app, c.engine.now);
  c.pruned = await pruneReleases(c.layout, state, c.settings.keep);
  if (c.pruned.length === 0) return;
  try {
    const g = await collectGarbage(c.layout, { app: c.app, held: true, command: `gc after the deploy of ${c.app}` });
    c.collected = g;
    c.say(`gc: freed ${g.freed.bytes} bytes in ${g.freed.blobs} blobs, ${g.objectBytes} bytes of ${g.objects} git objects, ${g.releaseDirs} release directories${g.complete ? '' : `; left for later: ${g.skipped.join('; ')}`}\n`);
  } catch (err) {
    c.notes.push(`Cleaning up the store after pruning failed (${(err as Error).message}); \`toes gc\` finishes it.`);
  }
}
