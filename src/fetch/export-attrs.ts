// A git snapshot as `git archive` would export it: entries marked export-ignore (or below a
// folder so marked) are left out, and files marked export-subst have their `$Format:...$`
// expanded. Only the .gitattributes files and the export-subst files are read: a tree with
// no .gitattributes costs one pass over the entry names.
import fs from 'node:fs/promises';
import { RevError } from '../errors.js';
import { gitBlobId } from './blobs.js';
import { formatSubst, parseCommit, type RefInfo } from './export-subst.js';
import { ArchiveAttributes } from './gitattributes.js';
import { formatBytes } from './limits.js';
import { displayName, type Entry } from './snapshot.js';

export type { RefInfo } from './export-subst.js';

export interface ExportSource {
  commit: { oid: string; content: Buffer };
  refs: RefInfo;
  /** The file holding an entry's content as the tree has it. */
  file(e: Entry): string;
  /** Stores a substituted content under its own id. */
  store(oid: string, exec: boolean, content: Buffer): Promise<void>;
}

export interface Exported {
  entries: Entry[];
  /** Entries left out or given new content: their original files are not the release's. */
  changed: Entry[];
}

const ATTR_FILE = '.gitattributes';

/**
 * What export reads into memory. git reads up to 100 MB of each .gitattributes and any
 * export-subst file whole; real ones are a few KB, and a Pi cannot hold the rest, so the
 * .gitattributes of a tree together, and each export-subst file, are refused past these.
 */
export const MAX_ATTR_BYTES = 1024 * 1024;
export const MAX_SUBST_BYTES = 16 * 1024 * 1024;

function tooLarge(what: string, max: number, bytes: number): RevError {
  return new RevError('LIMIT_EXCEEDED', `Refused to deploy: ${what} more than ${formatBytes(max)} (${formatBytes(bytes)}), more than toes-rev reads to export the commit as git archive would, so nothing was published; make it smaller and deploy again.`, {
    data: { bytes, max },
  });
}

export async function exportEntries(entries: Entry[], src: ExportSource): Promise<Exported> {
  const found = entries.filter((e) => e.kind !== 'symlink' && (e.path === ATTR_FILE || e.path.endsWith(`/${ATTR_FILE}`)));
  if (!found.length) return { entries, changed: [] };
  // git reads no attributes from a symlink (left out above).
  let total = 0;
  for (const e of found) total += (await fs.stat(src.file(e))).size;
  if (total > MAX_ATTR_BYTES) throw tooLarge('the .gitattributes files of this commit add up to', MAX_ATTR_BYTES, total);
  const files = new Map<string, string>();
  for (const e of found) files.set(e.path.slice(0, Math.max(0, e.path.length - ATTR_FILE.length - 1)), await fs.readFile(src.file(e), 'utf8'));
  const attrs = new ArchiveAttributes(files);
  if (attrs.empty) return { entries, changed: [] };
  const commit = parseCommit(src.commit.oid, src.commit.content);
  const state = { describes: 0 };
  const out: Entry[] = [];
  const changed: Entry[] = [];
  for (const e of entries) {
    if (attrs.ignored(e.path)) {
      changed.push(e);
      continue;
    }
    if (e.kind === 'symlink' || !attrs.isSet(e.path, 'export-subst')) {
      out.push(e);
      continue;
    }
    const size = (await fs.stat(src.file(e))).size;
    if (size > MAX_SUBST_BYTES) throw tooLarge(`the file "${displayName(e.path)}", marked export-subst, holds`, MAX_SUBST_BYTES, size);
    const subst = formatSubst(await fs.readFile(src.file(e)), commit, src.refs, state, MAX_SUBST_BYTES);
    if (subst === null) {
      throw new RevError('LIMIT_EXCEEDED', `Refused to deploy: the file "${displayName(e.path)}", marked export-subst, would grow past ${formatBytes(MAX_SUBST_BYTES)} once its $Format:...$ placeholders are expanded, more than toes-rev writes to export the commit as git archive would, so nothing was published; use fewer placeholders and deploy again.`, {
        data: { max: MAX_SUBST_BYTES },
      });
    }
    if (!subst) {
      out.push(e);
      continue;
    }
    // New content, stored under its own id: the commit's blob stays as it was.
    const oid = gitBlobId(subst);
    await src.store(oid, e.kind === 'exec', subst);
    changed.push(e);
    out.push({ ...e, oid });
  }
  return { entries: out, changed };
}

/** Short ref names as `git log --decorate` prints them. */
export function decorationOf(ref: string): string {
  if (ref.startsWith('refs/heads/')) return ref.slice('refs/heads/'.length);
  if (ref.startsWith('refs/tags/')) return `tag: ${ref.slice('refs/tags/'.length)}`;
  if (ref.startsWith('refs/remotes/')) return ref.slice('refs/remotes/'.length);
  return ref;
}

/**
 * What a deploy knows of the refs at `commit`: HEAD (and the branch it names), the ref
 * deployed, and whether that ref is an annotated tag of exactly this commit.
 */
export function refInfo(commit: string, opts: { ref: string; headCommit?: string; headRef?: string; annotated?: boolean }): RefInfo {
  const decorations: string[] = [];
  let named = '';
  if (opts.headCommit === commit) {
    named = opts.headRef ?? '';
    decorations.push(named ? `HEAD -> ${decorationOf(named)}` : 'HEAD');
  }
  if (opts.ref && opts.ref !== 'HEAD' && opts.ref !== named) decorations.push(decorationOf(opts.ref));
  const describe = opts.annotated && opts.ref.startsWith('refs/tags/') ? opts.ref.slice('refs/tags/'.length) : undefined;
  return { decorations, describe };
}
