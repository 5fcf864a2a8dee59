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

type TreeList = Awaited<ReturnType<TreeReader['tree']>>;

/**
 * Sizes the tree before it is expanded: each distinct tree is read once and its entry count
 * and height remembered, so a tree bomb (a few small trees that name each other over and
 * over, 2^30 paths in a few KB) is refused after reading those few trees, having built no
 * path at all. Walking it instead held every path up to the limit in memory (445 MB at the
 * default 200,000 entries). The lists it read are returned for the walk (no more entries
 * than the walk makes paths): reading each twice cost a second hash and parse of each tree.
 */
async function measure(root: string, reader: TreeReader, budget: Budget): Promise<Map<string, TreeList>> {
  const { entries, depth } = budget.limits;
  const sizes = new Map<string, { count: number; height: number }>();
  const lists = new Map<string, TreeList>();
  const visit = async (oid: string, level: number): Promise<{ count: number; height: number }> => {
    const list = await reader.tree(oid);
    lists.set(oid, list);
    // Its entries sit `level` folders down: a chain deeper than the limit stops here.
    if (list.length && level > depth) throw budget.tooDeep();
    let count = 0;
    let height = 0;
    for (const t of list) {
      count++;
      if (isTree(t.mode)) {
        const sub = sizes.get(t.oid) ?? (await visit(t.oid, level + 1));
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
  return lists;
}

/**
 * Measured first (see measure), which read every distinct tree, so the walk itself reads
 * nothing: a plain loop. The budget still counts every path as it is met, for the callers'
 * totals.
 */
export async function walkTree(root: string, reader: TreeReader, budget = new Budget(DEFAULT_LIMITS)): Promise<Entry[]> {
  const lists = await measure(root, reader, budget);
  const out: Entry[] = [];
  const symlinks: Entry[] = [];
  const walk = (treeOid: string, prefix: string): void => {
    for (const t of lists.get(treeOid)!) {
      const p = prefix ? `${prefix}/${t.name}` : t.name;
      budget.entry(p);
      if (isTree(t.mode)) walk(t.oid, p);
      else if (t.mode === '160000') continue; // submodules are not part of the snapshot
      else if (t.mode === '120000') symlinks.push({ path: p, kind: 'symlink', oid: t.oid });
      else out.push({ path: p, kind: t.mode === '100755' ? 'exec' : 'file', oid: t.oid });
    }
  };
  walk(root, '');
  for (const s of symlinks) s.target = await reader.blobText(s.oid);
  return out.concat(symlinks).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
