// A snapshot is what a fetcher hands to the release layer: a version key and the list
// of entries of the app's tree. File contents live in the blob store, keyed by git blob id.
import path from 'node:path';
import { RevError } from '../errors.js';
import { printable } from '../printable.js';

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

/**
 * Some of a snapshot's files at their paths in a scratch folder, read-only with the store's
 * modes, whose contents are not in the blob store yet: materialize links them into it.
 */
export interface PreparedTree {
  dir: string;
  /** Entry paths present in `dir` (no links, folders only where these need them). */
  paths: Set<string>;
}

/** Every folder the paths need, parents before children. */
export function foldersOf(paths: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    for (let i = p.lastIndexOf('/'); i > 0 && !dirs.has(p.slice(0, i)); i = p.lastIndexOf('/', i - 1)) dirs.add(p.slice(0, i));
  }
  return [...dirs].sort();
}

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
   * Called once the snapshot's contents are in the blob store: only then may the store
   * claim this commit as a "have", or a later fetch would skip contents it lacks.
   */
  settle?: () => Promise<void>;
  /**
   * Files a fetch wrote where they belong (a git fetch does, for new contents): materialize
   * puts them into the store and may rename the folder into place, linking only the rest.
   * Until then their contents are only here (see `contentFile`). Scratch space either way.
   */
  prepared?: PreparedTree;
}

/**
 * A name from an archive or a tree, safe to print: control characters (an ESC sequence or
 * a newline could rewrite the user's terminal) are escaped, and a very long name is cut.
 */
export function displayName(name: string, max = 200): string {
  return printable(name, { max });
}

/** An UNSAFE_ENTRY refusal; `where` names what held the entry ("entry", "archive entry"). */
export function unsafeEntryError(entryPath: string, why: string, data: Record<string, unknown> = {}, where = 'entry', fix = 'fix the repository or archive'): RevError {
  return new RevError('UNSAFE_ENTRY', `Refused to deploy: the ${where} "${displayName(entryPath)}" ${why}, so nothing was published; ${fix} and deploy again.`, {
    data: { path: entryPath, why, ...data },
  });
}

const unsafe = (entryPath: string, why: string): RevError => unsafeEntryError(entryPath, why);

/** The longest name of one path component most filesystems take (NAME_MAX), in bytes. */
export const MAX_NAME_BYTES = 255;
/** The longest path Linux takes (PATH_MAX), in bytes, less room for the release directory. */
export const MAX_PATH_BYTES = 3_800;

/**
 * `.git` as a case-insensitive disk (macOS, Windows shares) or HFS+ would see it: any case,
 * with the zero-width characters HFS+ ignores, or with trailing dots and spaces (NTFS).
 */
function isDotGit(part: string): boolean {
  // Most names cannot fold to ".git": too short, or no g at all (two regexps a name otherwise).
  if (part.length < 4 || (!part.includes('g') && !part.includes('G'))) return false;
  const folded = part.replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, '').replace(/[. ]+$/, '').toLowerCase();
  return folded === '.git';
}

/** Throws UNSAFE_ENTRY unless `p` is a plain relative path that stays inside the root. */
export function checkRelativePath(p: string): string {
  if (p.length === 0 || p.includes('\0')) throw unsafe(p, 'has an empty or NUL-containing name');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw unsafe(p, 'is an absolute path');
  if (p.includes('\\')) throw unsafe(p, 'contains a backslash, which some systems read as a path separator');
  // A name whose bytes are not UTF-8 decodes to U+FFFD: two such names could become one.
  if (p.includes('\ufffd')) throw unsafe(p, 'has a name that is not valid UTF-8 text (rename it to UTF-8)');
  // A UTF-16 unit is at most 3 bytes of UTF-8: only a long name needs counting.
  if (p.length * 3 > MAX_PATH_BYTES && Buffer.byteLength(p) > MAX_PATH_BYTES) throw unsafe(p, `has a path longer than ${MAX_PATH_BYTES.toLocaleString('en-US')} bytes, more than the filesystem takes`);
  const parts = p.split('/');
  for (const part of parts) {
    if (part === '..') throw unsafe(p, 'climbs out of the release with ".."');
    if (part === '' || part === '.') throw unsafe(p, 'is not a normalized path');
    if (isDotGit(part)) throw unsafe(p, 'writes into a .git directory');
    if (part.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(part) > MAX_NAME_BYTES) throw unsafe(p, `has a name longer than ${MAX_NAME_BYTES} bytes, more than the filesystem takes`);
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
  if (path.posix.isAbsolute(target)) throw unsafe(linkPath, `is a symlink to an absolute path (${displayName(target)})`);
  const dir = path.posix.dirname(linkPath);
  const resolved = resolveInTree(dir === '.' ? [] : dir.split('/'), target, links, { n: 0 });
  if (resolved === 'outside') throw unsafe(linkPath, `is a symlink leading outside the release (${displayName(target)})`);
  if (resolved === 'loop') throw unsafe(linkPath, `is a symlink loop or a chain of more than ${MAX_LINK_HOPS} links (${displayName(target)})`);
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
  // Whether some path is also a folder of others: rare, and only then is each entry's line
  // of folders walked (a file and a folder of one name cannot both be made).
  const clash = foldersOf(seen).some((d) => seen.has(d));
  for (const e of clash ? entries : []) {
    for (let dir = path.posix.dirname(e.path); dir !== '.'; dir = path.posix.dirname(dir)) {
      if (seen.has(dir) && !links.has(dir)) throw unsafe(e.path, `lies below "${displayName(dir)}", which the tree also has as a file`);
    }
  }
  if (links.size === 0) return;
  for (const [linkPath, target] of links) checkLinkTarget(linkPath, target, links);
  for (const e of clash ? entries : []) {
    let dir = path.posix.dirname(e.path);
    while (dir !== '.') {
      if (links.has(dir)) throw unsafe(e.path, `lies below the symlink "${displayName(dir)}"`);
      dir = path.posix.dirname(dir);
    }
  }
}

/** Where an entry's content can be read now: its prepared file, else its stored blob. */
export function contentFile(snap: Snapshot, e: Entry, storedAt: (oid: string, exec: boolean) => string): string {
  return snap.prepared?.paths.has(e.path) ? `${snap.prepared.dir}/${e.path}` : storedAt(e.oid, e.kind === 'exec');
}

export function hasPackageJson(entries: Entry[]): boolean {
  return entries.some((e) => e.path === 'package.json' && e.kind !== 'symlink');
}
