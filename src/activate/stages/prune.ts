// prune: keep the newest `keep` good releases; the live one and the rollback target always
// stay. Pruned releases are renamed aside here; what they alone used (their directories,
// deploy logs, git objects and blobs nothing kept needs) is given back by `collect`, which
// the deploy runs once it has let go of the app's lock (see deploy.ts).
import { collectGarbage } from '../../releases/gc.js';
import { reconcile } from '../../releases/reconcile.js';
import { prune as pruneReleases } from '../../releases/retention.js';
import type { DeployCtx } from '../context.js';

export async function prune(c: DeployCtx): Promise<void> {
  const state = await reconcile(c.layout, c.app, c.engine.now);
  c.pruned = await pruneReleases(c.layout, state, c.settings.keep);
}

/**
 * The collection after a prune. Outside the app's lock, so the next deploy of the app never
 * waits for deletions; it never waits for a deploy of another app either (a busy store is
 * left for the next collection), and it never fails the deploy, which is live already.
 */
export async function collect(c: DeployCtx): Promise<void> {
  if (!c.pruned?.length) return;
  try {
    const g = await collectGarbage(c.layout, { app: c.app, command: `gc after the deploy of ${c.app}` });
    c.say(`gc: freed ${g.freed.bytes} bytes in ${g.freed.blobs} blobs, ${g.objectBytes} bytes of ${g.objects} git objects, ${g.releaseDirs} release directories${g.complete ? '' : `; left for later: ${g.skipped.join('; ')}`}\n`);
  } catch (err) {
    c.say(`gc: failed (${(err as Error).message}); \`toes gc\` finishes it\n`);
  }
}
