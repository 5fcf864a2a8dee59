// A snapshot is what a fetcher hands to the release layer: a version key and the list
// of entries of the app's tree. File contents live in the blob store, keyed by git blob id.
import path from 'node:path';
import { RevError } from '../errors.js';

export type EntryKind = 'file' | 'exec' | 'symlink';

export interface Entry {
  /** POSIX path relative to the release root; validated by checkEntries. */
  path: string;
  kind: EntryKind;
  /** git blob id of the content (for a symlink: of its target text). */
  oid: string;
  /** The link text, for symlinks. */
  target?: string;
}

export type SourceKind = 'git' | 'tarball' | 'dir';

export interface Snapshot {
  /** The release key: the commit id (git), archive hash (tarball) or content hash (dir). */
  version: string;
  kind: SourceKind;
  commit?: string;
  ref?: string;
  entries: Entry[];
  /** Bytes downloaded to obtain this snapshot (0 when nothing new was needed). */
  bytesFetched: number;
  /**
   * Contents that arrived with this snapshot and are not in the blob store yet, by blob
   * file name (BlobStore.nameOf). Materialize writes each once and links it into the store,
   * which saves writing every new file twice.
   */
  pending?: Map<string, Buffer>;
  /**
   * Called once the snapshot's contents are in the blob store: only then may the store
   * claim this commit as a "have", or a later fetch would skip contents it lacks.
   */
  settle?: () => Promise<void>;
}

function unsafe(entryPath: string, why: string): RevError {
  return new RevError('UNSAFE_ENTRY', `Refused to deploy: the entry "${entryPath}" ${why}, so nothing was published; fix the repository or archive and deploy again.`, {
    data: { path: entryPath, why },
  });
}

/** Throws UNSAFE_ENTRY unless `p` is a plain relative path that stays inside the root. */
export function checkRelativePath(p: string): string {
  if (p.length === 0 || p.includes('\0')) throw unsafe(p, 'has an empty or NUL-containing name');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw unsafe(p, 'is an absolute path');
  if (p.includes('\\')) throw unsafe(p, 'contains a backslash, which some systems read as a path separator');
  const parts = p.split('/');
  for (const part of parts) {
    if (part === '..') throw unsafe(p, 'climbs out of the release with ".."');
    if (part === '' || part === '.') throw unsafe(p, 'is not a normalized path');
    if (part === '.git') throw unsafe(p, 'writes into a .git directory');
  }
  return p;
}

/** How many symlinks one resolution may follow: the kernel's own limit (MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/**
 * Resolves `target` the way the kernel would, starting in directory `dir` (path components
 * from the release root) and following the symlinks in `links` (release path -> link text)
 * as it goes, so that `y -> x/..` with `x -> .` is seen to climb out. Returns the resolved
 * components, `'outside'` when the walk leaves the root, or `'loop'` past MAX_LINK_HOPS.
 */
function resolveInTree(dir: readonly string[], target: string, links: ReadonlyMap<string, string>, hops: { n: number }): string[] | 'outside' | 'loop' {
  if (target.length === 0 || path.posix.isAbsolute(target)) return 'outside';
  const stack = [...dir];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return 'outside';
      stack.pop();
      continue;
    }
    stack.push(part);
    const text = links.get(stack.join('/'));
    if (text === undefined) continue;
    if (++hops.n > MAX_LINK_HOPS) return 'loop';
    const resolved = resolveInTree(stack.slice(0, -1), text, links, hops);
    if (typeof resolved === 'string') return resolved;
    stack.splice(0, stack.length, ...resolved);
  }
  return stack;
}

/**
 * A symlink at `linkPath` pointing at `target` must resolve inside the release. `links` holds
 * the tree's other symlinks (path -> target) so that chains through them are followed too;
 * without it only the link's own text is checked.
 */
export function checkLinkTarget(linkPath: string, target: string, links: ReadonlyMap<string, string> = new Map()): void {
  if (target.length === 0 || target.includes('\0')) throw unsafe(linkPath, 'is a symlink with an empty target');
  if (path.posix.isAbsolute(target)) throw unsafe(linkPath, `is a symlink to an absolute path (${target})`);
  const dir = path.posix.dirname(linkPath);
  const resolved = resolveInTree(dir === '.' ? [] : dir.split('/'), target, links, { n: 0 });
  if (resolved === 'outside') throw unsafe(linkPath, `is a symlink leading outside the release (${target})`);
  if (resolved === 'loop') throw unsafe(linkPath, `is a symlink loop or a chain of more than ${MAX_LINK_HOPS} links (${target})`);
}

/**
 * Validates a whole entry list: every path safe, every link inside (following chains of
 * links), no duplicates, and no entry below a symlink (which would let a later write
 * follow the link out of the release).
 */
export function checkEntries(entries: Entry[]): void {
  const seen = new Set<string>();
  const links = new Map<string, string>();
  for (const e of entries) {
    checkRelativePath(e.path);
    if (seen.has(e.path)) throw unsafe(e.path, 'appears twice');
    seen.add(e.path);
    if (e.kind === 'symlink') links.set(e.path, e.target ?? '');
  }
  if (links.size === 0) return;
  for (const [linkPath, target] of links) checkLinkTarget(linkPath, target, links);
  for (const e of entries) {
    let dir = path.posix.dirname(e.path);
    while (dir !== '.') {
      if (links.has(dir)) throw unsafe(e.path, `lies below the symlink "${dir}"`);
      dir = path.posix.dirname(dir);
    }
  }
}

export function hasPackageJson(entries: Entry[]): boolean {
  return entries.some((e) => e.path === 'package.json' && e.kind !== 'symlink');
}
