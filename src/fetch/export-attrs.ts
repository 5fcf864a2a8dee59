// A git snapshot as `git archive` would export it: entries marked export-ignore (or below a
// folder so marked) are left out, and files marked export-subst have their `$Format:...$`
// expanded. Only the .gitattributes files and the export-subst files are read: a tree with
// no .gitattributes costs one pass over the entry names.
import { gitBlobId } from './blobs.js';
import { ArchiveAttributes, MAX_ATTR_FILE } from './gitattributes.js';
import { formatSubst, parseCommit, type RefInfo } from './export-subst.js';
import type { Entry } from './snapshot.js';

export type { RefInfo } from './export-subst.js';

export interface ExportSource {
  commit: { oid: string; content: Buffer };
  refs: RefInfo;
  /** An entry's content as the tree holds it. */
  read(e: Entry): Promise<Buffer>;
  /** Stores a substituted content under its own id. */
  store(oid: string, exec: boolean, content: Buffer): Promise<void>;
}

export interface Exported {
  entries: Entry[];
  /** Entries left out or given new content: their original files are not the release's. */
  changed: Entry[];
}

const ATTR_FILE = '.gitattributes';

export async function exportEntries(entries: Entry[], src: ExportSource): Promise<Exported> {
  const files = new Map<string, string>();
  for (const e of entries) {
    if (e.kind === 'symlink' || (e.path !== ATTR_FILE && !e.path.endsWith(`/${ATTR_FILE}`))) continue;
    // git reads no attributes from a symlink (skipped above) nor from a file over 100 MB.
    const text = await src.read(e);
    if (text.length <= MAX_ATTR_FILE) files.set(e.path.slice(0, Math.max(0, e.path.length - ATTR_FILE.length - 1)), text.toString('utf8'));
  }
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
    const subst = formatSubst(await src.read(e), commit, src.refs, state);
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
