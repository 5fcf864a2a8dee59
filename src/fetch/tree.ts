// Walks a git tree into snapshot entries. Shared by the remote store (objects.ts) and
// local repositories (isomorphic-git), which differ only in how they read a tree or blob.
import { Budget, DEFAULT_LIMITS } from './limits.js';
import type { Entry } from './snapshot.js';

export interface TreeReader {
  tree(oid: string): Promise<{ mode: string; name: string; oid: string }[]>;
  /** A symlink's target text. */
  blobText(oid: string): Promise<string>;
}

const isTree = (mode: string) => mode === '40000' || mode === '040000';

/**
 * Sizes the tree before it is expanded: each distinct tree is read once and its entry count
 * and height remembered, so a tree bomb (a few small trees that name each other over and
 * over, 2^30 paths in a few KB) is refused after reading those few trees, having built no
 * path at all. Walking it instead held every path up to the limit in memory (445 MB at the
 * default 200,000 entries).
 */
async function measure(root: string, reader: TreeReader, budget: Budget): Promise<void> {
  const { entries, depth } = budget.limits;
  const sizes = new Map<string, { count: number; height: number }>();
  const visit = async (oid: string, level: number): Promise<{ count: number; height: number }> => {
    const known = sizes.get(oid);
    if (known) return known;
    const list = await reader.tree(oid);
    // Its entries sit `level` folders down: a chain deeper than the limit stops here.
    if (list.length && level > depth) throw budget.tooDeep();
    let count = 0;
    let height = 0;
    for (const t of list) {
      count++;
      if (isTree(t.mode)) {
        const sub = await visit(t.oid, level + 1);
        count += sub.count;
        height = Math.max(height, sub.height + 1);
      }
      if (count > entries) throw budget.tooMany();
      if (height > depth) throw budget.tooDeep();
    }
    const size = { count, height };
    sizes.set(oid, size);
    return size;
  };
  await visit(root, 0);
}

/**
 * Measured first (see measure), then walked; the budget still counts every path as it is
 * met, for the callers' totals.
 */
export async function walkTree(root: string, reader: TreeReader, budget = new Budget(DEFAULT_LIMITS)): Promise<Entry[]> {
  await measure(root, reader, budget);
  const out: Entry[] = [];
  const symlinks: Entry[] = [];
  async function walk(treeOid: string, prefix: string): Promise<void> {
    const subtrees: Promise<void>[] = [];
    try {
      for (const t of await reader.tree(treeOid)) {
        const p = prefix ? `${prefix}/${t.name}` : t.name;
        budget.entry(p);
        if (isTree(t.mode)) subtrees.push(walk(t.oid, p));
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
