// Turns a directory on disk (an unpacked tarball, or an app folder) into snapshot entries,
// putting each file's content into the blob store. Anything that is not a plain file,
// directory or in-tree symlink is refused: a release must never reach outside itself.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { RevError } from '../errors.js';
import { BlobStore, gitBlobId } from './blobs.js';
import type { Budget } from './limits.js';
import { mapLimit } from './pool.js';
import { checkEntries, displayName, type Entry } from './snapshot.js';

export interface IngestOptions {
  /** Honour .gitignore files and skip .git and node_modules (for a local app folder). */
  gitignore: boolean;
  /** The files are temporary and may be moved into the store instead of copied. */
  move: boolean;
  /** Counts entries and bytes against the source limits (an unpacked archive was counted already). */
  budget?: Budget;
}

interface Found {
  rel: string;
  abs: string;
  kind: 'file' | 'exec' | 'symlink';
}

/**
 * git's rule: the deepest .gitignore with a pattern matching the path decides (so a nested
 * `!keep.log` re-includes what a parent's `*.log` excluded); within a file the last match wins.
 */
function isIgnored(rules: readonly { base: string; ig: Ignore }[], rel: string, isDir: boolean): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const { base, ig } = rules[i];
    const sub = base ? rel.slice(base.length + 1) : rel;
    const verdict = ig.test(isDir ? `${sub}/` : sub);
    if (verdict.ignored) return true;
    if (verdict.unignored) return false;
  }
  return false;
}

async function walk(root: string, opts: IngestOptions): Promise<Found[]> {
  const found: Found[] = [];
  async function visit(dirRel: string, rules: { base: string; ig: Ignore }[]): Promise<void> {
    const dirAbs = path.join(root, dirRel);
    const names = await fs.readdir(dirAbs, { withFileTypes: true });
    let scoped = rules;
    if (opts.gitignore && names.some((d) => d.name === '.gitignore' && d.isFile())) {
      const text = await fs.readFile(path.join(dirAbs, '.gitignore'), 'utf8');
      scoped = [...rules, { base: dirRel, ig: ignore().add(text) }];
    }
    const subdirs: Promise<void>[] = [];
    for (const d of names) {
      const rel = dirRel ? `${dirRel}/${d.name}` : d.name;
      if (opts.gitignore) {
        if (d.name === '.git' || d.name === 'node_modules') continue;
        if (isIgnored(scoped, rel, d.isDirectory())) continue;
      }
      const abs = path.join(root, rel);
      opts.budget?.entry(rel);
      if (d.isDirectory()) subdirs.push(visit(rel, scoped));
      else if (d.isSymbolicLink()) found.push({ rel, abs, kind: 'symlink' });
      else if (d.isFile()) {
        const st = await fs.stat(abs);
        opts.budget?.file(rel, st.size);
        found.push({ rel, abs, kind: st.mode & 0o111 ? 'exec' : 'file' });
      } else {
        throw new RevError('UNSAFE_ENTRY', `Refused to deploy: "${displayName(rel)}" is a device, socket or pipe rather than a file, so nothing was published; remove it (or ignore it in .gitignore) and deploy again.`, {
          data: { path: rel },
        });
      }
    }
    await Promise.all(subdirs);
  }
  await visit('', []);
  return found;
}

export async function ingestDir(root: string, blobs: BlobStore, opts: IngestOptions): Promise<Entry[]> {
  const found = await walk(root, opts);
  const entries: Entry[] = found.map((f) => ({ path: f.rel, kind: f.kind, oid: '' }));
  for (let i = 0; i < found.length; i++) {
    if (found[i].kind === 'symlink') {
      const target = await fs.readlink(found[i].abs);
      entries[i].target = target;
      entries[i].oid = gitBlobId(Buffer.from(target));
    }
  }
  // Validate before storing anything: an unsafe tree must leave the store untouched.
  checkEntries(entries);
  // Streamed one file at a time per worker: memory does not grow with file sizes.
  await mapLimit(found, 16, async (f, i) => {
    if (f.kind === 'symlink') return;
    entries[i].oid = await blobs.ingest(f.abs, f.kind === 'exec', opts.move);
  });
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A content hash of a tree: equal trees get equal versions, whatever their source. */
export function treeVersion(entries: Entry[]): string {
  const h = createHash('sha1');
  for (const e of entries) h.update(`${e.kind} ${e.oid} ${e.path}\n`);
  return h.digest('hex');
}

