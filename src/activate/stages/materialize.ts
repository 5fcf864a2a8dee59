// materialize: build the staging tree from the snapshot: links to stored blobs, or private
// copies when the app's own scripts will run in it (they may rewrite tracked files).
import fs from 'node:fs/promises';
import { contentFile } from '../../fetch/index.js';
import { materialize as materializeTree } from '../../releases/materialize.js';
import { INSTALL_SCRIPTS } from '../build.js';
import { ready, type DeployCtx } from '../context.js';
import { wants } from './build-step.js';

export async function materialize(c: DeployCtx): Promise<void> {
  ready(c, 'build', 'snapshot');
  const copies = await runsScripts(c);
  const marks = await materializeTree(c.snapshot.entries, c.blobs, c.build.staging, copies ? 'copy' : 'link', c.snapshot.prepared);
  c.tree = { copies, marks };
  await c.snapshot.settle?.();
  // Every content is linked or copied now and the tip names only stored contents: the
  // collector may run again. (relink, later, keeps its private copy if a blob went.)
  await c.storeUse?.leave();
}

/**
 * Whether any of the app's own scripts will run in the staging tree: predeploy, the
 * lifecycle scripts `bun install` runs for the root package, or those of dependencies the
 * app trusts (`trustedDependencies`). `bun install` itself only writes node_modules and a
 * new lockfile, never a tracked file. The sandbox makes the staging tree writable, so a
 * tracked file that is a link of a blob there would let a script rewrite the store.
 */
async function runsScripts(c: DeployCtx): Promise<boolean> {
  ready(c, 'snapshot');
  const entry = c.snapshot.entries.find((e) => e.path === 'package.json');
  let scripts: Record<string, unknown> = {};
  let trusted = false;
  try {
    if (!entry) throw new Error('no package.json');
    const text = await fs.readFile(contentFile(c.snapshot, entry, (oid, exec) => c.blobs.pathOf(oid, exec)));
    const pkg = JSON.parse(text.toString('utf8'));
    scripts = pkg?.scripts && typeof pkg.scripts === 'object' ? pkg.scripts : {};
    trusted = Array.isArray(pkg?.trustedDependencies) && pkg.trustedDependencies.length > 0;
  } catch {
    return true; // unreadable: assume the worst; the build will report the real problem
  }
  if (wants(c, 'predeploy') && scripts.predeploy) return true;
  return wants(c, 'install') && (trusted || INSTALL_SCRIPTS.some((s) => scripts[s]));
}
