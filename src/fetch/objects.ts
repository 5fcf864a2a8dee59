// The store's own object database: commits and trees as loose git objects (zlib, in the
// layout git and isomorphic-git read), plus the shallow list and refs. File contents are
// not kept here but in the blob store.
import fs from 'node:fs/promises';
import path from 'node:path';
import { objectId, type GitObject, type ObjectType } from './pack.js';
import { isSafeRefName } from './ref-name.js';
import { randomHex } from './hash.js';
import { writeFileAtomic } from './write-atomic.js';

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

export function parseTree(content: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const sp = content.indexOf(0x20, i);
    const nul = content.indexOf(0, sp);
    if (sp < 0 || nul < 0 || nul + 21 > content.length) throw new Error('malformed tree');
    out.push({ mode: content.toString('latin1', i, sp), name: content.toString('utf8', sp + 1, nul), oid: content.toString('hex', nul + 1, nul + 21) });
    i = nul + 21;
  }
  return out;
}

export function commitTree(content: Buffer): string {
  const m = /^tree ([0-9a-f]{40})/.exec(content.toString('latin1', 0, 46));
  if (!m) throw new Error('malformed commit');
  return m[1];
}

/**
 * Commits and trees live in one append-only file, read whole once per process: a deploy
 * walks every tree of its snapshot, and one read beats a file per tree. Each record is
 * [20-byte id][type byte][4-byte length][content]. A torn tail (a crash mid-append) is
 * cut off before the next append, so only the records of that interrupted call are lost.
 */
const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };
const CODE_TYPES: ObjectType[] = ['commit', 'commit', 'tree', 'blob', 'tag'];

function encode(records: { oid: string; type: ObjectType; content: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const head = Buffer.alloc(25);
    head.write(r.oid, 0, 'hex');
    head[20] = TYPE_CODES[r.type];
    head.writeUInt32BE(r.content.length, 21);
    parts.push(head, r.content);
  }
  return Buffer.concat(parts);
}

export class ObjectDb {
  private index?: Promise<{ data: Buffer; at: Map<string, { type: ObjectType; start: number; end: number }>; valid: number }>;

  constructor(readonly gitdir: string) {}

  private get logFile(): string {
    return path.join(this.gitdir, 'objects.log');
  }

  private load() {
    this.index ??= (async () => {
      const data = await fs.readFile(this.logFile).catch(() => Buffer.alloc(0));
      const at = new Map<string, { type: ObjectType; start: number; end: number }>();
      let i = 0;
      while (i + 25 <= data.length) {
        const len = data.readUInt32BE(i + 21);
        if (i + 25 + len > data.length) break;
        at.set(data.toString('hex', i, i + 20), { type: CODE_TYPES[data[i + 20]] ?? 'blob', start: i + 25, end: i + 25 + len });
        i += 25 + len;
      }
      return { data, at, valid: i };
    })();
    return this.index;
  }

  async has(oid: string): Promise<boolean> {
    return (await this.load()).at.has(oid);
  }

  /** Every complete record, in log order (for compaction). */
  async records(): Promise<{ oid: string; type: ObjectType; content: Buffer }[]> {
    const { data, at } = await this.load();
    return [...at].map(([oid, r]) => ({ oid, type: r.type, content: data.subarray(r.start, r.end) }));
  }

  /** Bytes of the log on disk, a torn tail included. */
  async size(): Promise<number> {
    return (await fs.stat(this.logFile).catch(() => ({ size: 0 }))).size;
  }

  async read(oid: string): Promise<GitObject | undefined> {
    const { data, at } = await this.load();
    const hit = at.get(oid);
    if (!hit) return undefined;
    const obj = { type: hit.type, content: data.subarray(hit.start, hit.end) };
    // A damaged record must not pass for the object it is filed under.
    return objectId(obj.type, obj.content) === oid ? obj : undefined;
  }

  /**
   * Appends objects the log lacks, in one write. Not synced here (an fdatasync cost a
   * one-commit deploy 15-35 ms): the seal's syncfs covers the store before a release is
   * named, and a tip whose records a power cut took is fetched again whole (git-remote.ts).
   */
  async append(objects: [string, GitObject][]): Promise<void> {
    const idx = await this.load();
    // What read() does not give back: absent, or held but damaged (its content no longer
    // hashes to its id), then written again, and the later record is the one load() keeps.
    const fresh: [string, GitObject][] = [];
    for (const o of objects) if (!(await this.read(o[0]))) fresh.push(o);
    if (!fresh.length) return;
    await fs.mkdir(this.gitdir, { recursive: true });
    const fh = await fs.open(this.logFile, 'a+');
    try {
      const { size } = await fh.stat();
      if (size > idx.valid) await fh.truncate(idx.valid);
      await fh.write(encode(fresh.map(([oid, o]) => ({ oid, ...o }))));
    } finally {
      await fh.close();
    }
    this.index = undefined;
  }

  async readRef(ref: string): Promise<string | undefined> {
    try {
      const v = (await fs.readFile(path.join(this.gitdir, ref), 'utf8')).trim();
      return /^[0-9a-f]{40}$/.test(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(ref: string, oid: string): Promise<void> {
    if (!isSafeRefName(ref) || !/^[0-9a-f]{40}$/.test(oid)) throw new Error(`refusing to write ref ${JSON.stringify(ref)}`);
    await writeFileAtomic(path.join(this.gitdir, ref), `${oid}\n`);
  }

  async shallows(): Promise<string[]> {
    try {
      return (await fs.readFile(path.join(this.gitdir, 'shallow'), 'utf8')).split('\n').filter((l) => /^[0-9a-f]{40}$/.test(l));
    } catch {
      return [];
    }
  }

  /**
   * Replaces the log by one holding only `keep` (in their log order): written beside it,
   * synced, then renamed over it, so a reader or a crash sees the old log or the new one.
   */
  async rewrite(keep: Set<string>): Promise<void> {
    const kept = (await this.records()).filter((r) => keep.has(r.oid));
    const tmp = `${this.logFile}.tmp-${randomHex(4)}`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.write(encode(kept));
      await fh.datasync();
    } catch (err) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await fs.rename(tmp, this.logFile);
    this.index = undefined;
  }

  /** Every ref the store holds (a settled tip of a deployed branch or tag), by name. */
  async refs(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const walk = async (rel: string): Promise<void> => {
      const names = await fs.readdir(path.join(this.gitdir, rel), { withFileTypes: true }).catch(() => []);
      for (const d of names) {
        const sub = `${rel}/${d.name}`;
        if (d.isDirectory()) await walk(sub);
        else if (!d.name.includes('.tmp-')) {
          const oid = await this.readRef(sub);
          if (oid) out.set(sub, oid);
        }
      }
    };
    await walk('refs');
    return out;
  }

  async setShallows(list: string[]): Promise<void> {
    await writeFileAtomic(path.join(this.gitdir, 'shallow'), [...new Set(list)].sort().map((s) => `${s}\n`).join(''));
  }

  async updateShallows(add: string[], remove: string[]): Promise<void> {
    if (!add.length && !remove.length) return;
    const set = new Set(await this.shallows());
    for (const a of add) set.add(a);
    for (const r of remove) set.delete(r);
    await writeFileAtomic(path.join(this.gitdir, 'shallow'), [...set].sort().map((s) => `${s}\n`).join(''));
  }
}

