// relink: after a build on private copies, every file it left untouched becomes a link to
// its blob again, so the sealed release costs disk only for what the build wrote.
import { relink as relinkTree } from '../../releases/materialize.js';
import { ready, type DeployCtx } from '../context.js';
import { noBuildReason } from '../decide.js';

export function skipRelink(c: DeployCtx): string | undefined {
  return noBuildReason(c.decision) ?? (c.tree?.copies ? undefined : 'the tree is links to the store already');
}

export async function relink(c: DeployCtx): Promise<void> {
  ready(c, 'build', 'tree', 'snapshot');
  const n = await relinkTree(c.snapshot.entries, c.blobs, c.build.staging, c.tree.marks);
  c.build.log.write(`shared ${n} of ${c.snapshot.entries.length} files with the store\n`);
}
