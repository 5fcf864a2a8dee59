// Where a fetch writes each new file content: at its path in the snapshot, inside a scratch
// tree that materialize can rename into place whole, instead of under its id in a flat
// folder. Each content then costs one file, created once where it ends up and linked into
// the blob store by materialize, rather than created, renamed into the store and linked
// back out; and a
// file lands in a folder of its own tree, as `tar -x` would put it, not among thousands in
// one folder. git writes a pack in walk order (a tree, then what it names), so a path is
// usually known by the time its content arrives; a content whose path is not known yet
// goes to the flat folder as before.
//
// Only plain names are placed: a tree with an unsafe, duplicate or case-ambiguous entry
// places nothing below it, and links are never made here, so no write can follow one. The
// snapshot's own walk still validates the whole tree afterwards and refuses it whole.
import fs from 'node:fs';
import type { BlobStore } from './blobs.js';
import { commitTree, parseTree, type TreeEntry } from './objects.js';
import type { GitObject } from './pack.js';
import { checkRelativePath, type Entry, type PreparedTree } from './snapshot.js';

const TREE = new Set(['40000', '040000']);

export class Placement {
  /** Content id -> the first entry naming it. */
  private targets = new Map<string, Entry>();
  /** Tree id -> its path, for trees named but not yet arrived. */
  private treePaths = new Map<string, string>();
  /** Trees arrived before their path was known. */
  private early = new Map<string, Buffer>();
  private walked = new Set<string>();
  /** Content id -> the entry it was written to. */
  readonly placed = new Map<string, Entry>();
  private made = new Set<string>();

  constructor(
    readonly dir: string,
    private commit: string,
    private blobs: BlobStore,
  ) {}

  /** Learns paths from each commit and tree as the pack brings it. */
  seen(oid: string, obj: GitObject): void {
    if (obj.type === 'commit' && oid === this.commit) {
      try {
        this.treeAt(commitTree(obj.content), '');
      } catch {
        // a malformed commit: the snapshot's walk says so
      }
    } else if (obj.type === 'tree') {
      const at = this.treePaths.get(oid);
      if (at === undefined) this.early.set(oid, obj.content);
      else this.walk(oid, at, obj.content);
    }
  }

  private treeAt(oid: string, at: string): void {
    if (this.walked.has(oid) || this.treePaths.has(oid)) return;
    const early = this.early.get(oid);
    if (early) this.walk(oid, at, early);
    else this.treePaths.set(oid, at);
  }

  private walk(oid: string, at: string, content: Buffer): void {
    this.treePaths.delete(oid);
    this.early.delete(oid);
    this.walked.add(oid);
    let entries: TreeEntry[];
    try {
      entries = parseTree(content);
      const names = new Set<string>();
      for (const t of entries) {
        // Case-folded: two names one case apart are one file on some disks.
        const folded = t.name.toLowerCase();
        if (names.has(folded)) return;
        names.add(folded);
        checkRelativePath(at ? `${at}/${t.name}` : t.name);
        if (t.name.includes('/')) return;
      }
    } catch {
      return;
    }
    for (const t of entries) {
      const p = at ? `${at}/${t.name}` : t.name;
      if (TREE.has(t.mode)) this.treeAt(t.oid, p);
      else if (t.mode !== '160000' && t.mode !== '120000' && !this.targets.has(t.oid)) {
        this.targets.set(t.oid, { path: p, kind: t.mode === '100755' ? 'exec' : 'file', oid: t.oid });
      }
    }
  }

  /** Where a content goes, when its path is known and the store lacks it. */
  async place(oid: string): Promise<{ file: string; mode: number } | undefined> {
    const e = this.targets.get(oid);
    if (!e) return undefined;
    this.targets.delete(oid);
    const exec = e.kind === 'exec';
    // Already stored (under this mode): materialize links the stored one.
    if (await this.blobs.has(oid, exec)) return undefined;
    const slash = e.path.lastIndexOf('/');
    this.mkdir(slash > 0 ? e.path.slice(0, slash) : '');
    this.placed.set(oid, e);
    return { file: `${this.dir}/${e.path}`, mode: exec ? 0o555 : 0o444 };
  }

  /** What the fetch leaves for materialize. */
  prepared(): PreparedTree | undefined {
    if (this.placed.size) return { dir: this.dir, paths: new Set([...this.placed.values()].map((e) => e.path)) };
    fs.rmSync(this.dir, { recursive: true, force: true });
    return undefined;
  }

  private mkdir(rel: string): void {
    if (this.made.has(rel)) return;
    fs.mkdirSync(rel ? `${this.dir}/${rel}` : this.dir, { recursive: true });
    for (let d = rel; !this.made.has(d); d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) {
      this.made.add(d);
      if (!d) break;
    }
  }
}
