// prune: keep the newest `keep` good releases; the live one and the rollback target always
// stay. Pruned releases are renamed aside here; what they alone used (their directories,
// deploy logs, git objects and blobs nothing kept needs) is given back by `collect`, which
// the deploy starts in the background (prune-collector.ts) once it has let go of the app's
// lock (see deploy.ts).
import { createRequire } from 'node:module';
import path from 'node:path';
import { reconcile } from '../../releases/reconcile.js';
import { prune as pruneReleases } from '../../releases/retention.js';
import { writeFileAtomic } from '../../fetch/write-atomic.js';
import { entryBeside } from '../entry-file.js';
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
  // Loaded here, not with the module: every deploy's one-file bundle holds this module, and
  // most deploys prune nothing (node:child_process costs Bun 1-3 ms to load, node:url 1 ms).
  // require, not import(): in the CommonJS bundle for Node, import() would start the ES
  // module loader for them.
  const require = createRequire(import.meta.url);
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const { fileURLToPath } = require('node:url') as typeof import('node:url');
  const collector = entryBeside(path.dirname(fileURLToPath(import.meta.url)), 'prune-collector');
  try {
    const child = spawn(process.execPath, [collector, c.app, log], { env, detached: true, stdio: 'ignore' });
    child.on('error', () => c.say('gc: could not start the collection; `toes gc` does it\n'));
    child.unref();
    // Noted before the command returns, so whoever waits for the disk to settle sees it.
    // Replaced whole, not synced: after a power cut the process it names is gone anyway, and
    // two fsyncs cost 2-20 ms of every deploy that pruned.
    if (child.pid) await writeFileAtomic(c.layout.collectorNote(c.app), JSON.stringify({ pid: child.pid, startedAt: new Date().toISOString() }) + '\n', 0o600);
  } catch {
    c.say('gc: could not start the collection; `toes gc` does it\n');
  }
}
