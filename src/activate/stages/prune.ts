// prune: keep the newest `keep` good releases; the live one and the rollback target always
// stay. Pruned releases are renamed aside here; what they alone used (their directories,
// deploy logs, git objects and blobs nothing kept needs) is given back by `collect`, which
// the deploy starts in the background (prune-collector.ts) once it has let go of the app's
// lock (see deploy.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reconcile } from '../../releases/reconcile.js';
import { prune as pruneReleases } from '../../releases/retention.js';
import { writeJsonDurable } from '../../releases/durable.js';
import type { DeployCtx } from '../context.js';

export async function prune(c: DeployCtx): Promise<void> {
  const state = await reconcile(c.layout, c.app, c.engine.now);
  c.pruned = await pruneReleases(c.layout, state, c.settings.keep);
}

/**
 * The collection after a prune, started in a detached process (prune-collector.ts) once the
 * deploy has let go of the app's lock: the command returns when the release is live, not
 * when the deletions end. It never waits for a deploy of another app (a busy store is left
 * for the next collection), and it never fails the deploy, which is live already.
 */
export async function collect(c: DeployCtx): Promise<void> {
  if (!c.pruned?.length) return;
  const { roots } = c.layout;
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: roots.dataDir, APPS_DIR: roots.appsDir, TOES_DIR: roots.toesDir };
  const log = c.build ? c.layout.deployLog(c.app, c.build.record.id) : '';
  // Beside this module, in dist/src and in the per-runtime bundles alike (an entry there).
  // Worked out here, not when the module loads: a rollback's one-file bundle holds this
  // module too, and would load node:url for it (about 1 ms on Bun).
  const collector = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prune-collector.js');
  try {
    const child = spawn(process.execPath, [collector, c.app, log], { env, detached: true, stdio: 'ignore' });
    child.on('error', () => c.say('gc: could not start the collection; `toes gc` does it\n'));
    child.unref();
    // Noted before the command returns, so whoever waits for the disk to settle sees it.
    if (child.pid) await writeJsonDurable(c.layout.collectorNote(c.app), { pid: child.pid, startedAt: new Date().toISOString() }, { compact: true });
  } catch {
    c.say('gc: could not start the collection; `toes gc` does it\n');
  }
}
