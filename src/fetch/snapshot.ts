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
}

function unsafe(entryPath: string, why: string): RevError {
  return new RevError('UNSAFE_ENTRY', `Refused to deploy: the entry "${entryPath}" ${why}; nothing was published. Fix the repository or archive and deploy again.`, {
    data: { path: entryPath, why },
  });
}

/** Throws UNSAFE_ENTRY unless `p` is a plain relative path that stays inside the root. */
export function checkRelativePath(p: string): string {
  if (p.length === 0 || p.includes('\0')) throw unsafe(p, 'has an empty or NUL-containing name');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\\')) throw unsafe(p, 'is an absolute path');
  const parts = p.split('/');
  for (const part of parts) {
    if (part === '..') throw unsafe(p, 'climbs out of the release with ".."');
    if (part === '' || part === '.') throw unsafe(p, 'is not a normalized path');
    if (part === '.git') throw unsafe(p, 'writes into a .git directory');
  }
  return p;
}

/** A symlink at `linkPath` pointing at `target` must resolve inside the release. */
export function checkLinkTarget(linkPath: string, target: string): void {
  if (target.length === 0 || target.includes('\0')) throw unsafe(linkPath, 'is a symlink with an empty target');
  if (path.posix.isAbsolute(target)) throw unsafe(linkPath, `is a symlink to an absolute path (${target})`);
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../')) throw unsafe(linkPath, `is a symlink leading outside the release (${target})`);
}

/**
 * Validates a whole entry list: every path safe, every link inside, no duplicates, and no
 * entry below a symlink (which would let a later write follow the link out of the release).
 */
export function checkEntries(entries: Entry[]): void {
  const seen = new Set<string>();
  const links = new Set<string>();
  for (const e of entries) {
    checkRelativePath(e.path);
    if (seen.has(e.path)) throw unsafe(e.path, 'appears twice');
    seen.add(e.path);
    if (e.kind === 'symlink') {
      checkLinkTarget(e.path, e.target ?? '');
      links.add(e.path);
    }
  }
  if (links.size === 0) return;
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
