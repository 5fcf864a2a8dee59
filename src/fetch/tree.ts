// Walks a git tree into snapshot entries. Shared by the remote store (objects.ts) and
// local repositories (isomorphic-git), which differ only in how they read a tree or blob.
import { Budget, DEFAULT_LIMITS } from './limits.js';
import type { Entry } from './snapshot.js';

export interface TreeReader {
  tree(oid: string): Promise<{ mode: string; name: string; oid: string }[]>;
  /** A symlink's target text. */
  blobText(oid: string): Promise<string>;
}

/**
 * The budget counts every path as it is met, so a tree bomb (a few trees that name each
 * other over and over, 2^30 paths in a few KB) is refused at the entry limit, not walked.
 */
export async function walkTree(root: string, reader: TreeReader, budget = new Budget(DEFAULT_LIMITS)): Promise<Entry[]> {
  const out: Entry[] = [];
  const symlinks: Entry[] = [];
  async function walk(treeOid: string, prefix: string): Promise<void> {
    const subtrees: Promise<void>[] = [];
    try {
      for (const t of await reader.tree(treeOid)) {
        const p = prefix ? `${prefix}/${t.name}` : t.name;
        budget.entry(p);
        if (t.mode === '40000' || t.mode === '040000') subtrees.push(walk(t.oid, p));
        else if (t.mode === '160000') continue; // submodules are not part of the snapshot
        else if (t.mode === '120000') symlinks.push({ path: p, kind: 'symlink', oid: t.oid });
        else out.push({ path: p, kind: t.mode === '100755' ? 'exec' : 'file', oid: t.oid });
      }
    } catch (err) {
      // Walks already started may fail too (a lost tree): none may be left unhandled.
      await Promise.allSettled(subtrees);
      throw err;
    }
    await Promise.all(subtrees);
  }
  await walk(root, '');
  for (const s of symlinks) s.target = await reader.blobText(s.oid);
  return out.concat(symlinks).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
