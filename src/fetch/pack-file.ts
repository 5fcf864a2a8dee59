// Reads a git packfile from disk with memory bounded by one object (and, for a delta, its
// base) plus a 1 MiB read window, never by the pack: blobs are inflated straight into files
// of their own, large ones as a stream; trees, commits and tags (small) are kept in memory
// for the tree walk. A delta is resolved as soon as its base is known (an OFS_DELTA's base
// always comes before it), reading a blob base back from its file; the few whose base
// comes later wait for a second pass.
import { once } from 'node:events';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { applyDelta, objectId, OFS_DELTA, PackError, PackLimitError, REF_DELTA, TYPES, type GitObject, type ObjectType, type PackLimits } from './pack.js';
import { createHash, type Hasher } from './hash.js';

let zlibModule: typeof import('node:zlib') | undefined;
/**
 * node:zlib, and the streams it brings, on the first inflate: a deploy's one-file bundle
 * initialises this module at start, and a deploy from a directory or a local repository,
 * or of a commit already live, inflates nothing (Bun takes 5-6 ms to load it). require,
 * not import(): Node's .cjs bundle would start its ES module loader for an import().
 */
function zlib(): typeof import('node:zlib') {
  return (zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib'));
}

/** Objects inflated above this size are streamed to their file rather than held whole. */
const STREAM_ABOVE = 1024 * 1024;
const CHUNK = 256 * 1024;
/**
 * Reads come from a window of the file this large: a pack of 3,000 small objects was
 * 6,000+ reads of a few hundred bytes each, every one a thread-pool round trip, and on
 * Node those waits were most of a cold deploy's fetch stage.
 */
const WINDOW = 1024 * 1024;

export interface PackContents {
  /** Trees, commits and tags, by id. */
  small: Map<string, GitObject>;
  /** Blob ids, each with the file it was inflated into (`<blobDir>/<id>` unless placed). */
  blobs: Map<string, string>;
}

export interface IndexOptions {
  /** An empty directory the blobs are written into. */
  blobDir: string;
  /** REF_DELTA bases that are not in the pack (the store's own objects). */
  external?: (oid: string) => Promise<GitObject | undefined>;
  limits: PackLimits;
  /** Each commit, tree and tag as it is read. */
  seen?: (oid: string, obj: GitObject) => void;
  /** Where a blob's file goes instead of `<blobDir>/<id>` (its path in the snapshot, say). */
  place?: (oid: string) => Promise<{ file: string; mode: number } | undefined>;
}

interface Header {
  type: number;
  size: number;
  dataStart: number;
  baseOffset?: number;
  baseOid?: string;
}

interface Delta {
  offset: number;
  header: Header;
}

class PackReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private fh: fs.FileHandle,
    readonly end: number,
  ) {}

  /** Bytes at `pos`; the buffer may be shared with later reads, never overwritten. */
  async read(pos: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.end - pos));
    const at = pos - this.windowStart;
    if (at >= 0 && at + n <= this.window.length) return this.window.subarray(at, at + n);
    const size = Math.max(0, Math.min(Math.max(n, WINDOW), this.end - pos));
    const buf = Buffer.allocUnsafe(size);
    const { bytesRead } = await this.fh.read(buf, 0, size, pos);
    this.window = buf.subarray(0, bytesRead);
    this.windowStart = pos;
    return this.window.subarray(0, Math.min(n, bytesRead));
  }

  async header(offset: number): Promise<Header> {
    const b = await this.read(offset, 64);
    let i = 0;
    const next = () => {
      if (i >= b.length) throw new PackError(`pack ends early at ${offset}`);
      return b[i++];
    };
    let c = next();
    const type = (c >> 4) & 7;
    let size = c & 15;
    let mul = 16;
    while (c & 0x80) {
      c = next();
      size += (c & 0x7f) * mul;
      mul *= 128;
    }
    const h: Header = { type, size, dataStart: 0 };
    if (type === OFS_DELTA) {
      c = next();
      let back = c & 0x7f;
      while (c & 0x80) {
        c = next();
        back = (back + 1) * 128 + (c & 0x7f);
      }
      h.baseOffset = offset - back;
      if (h.baseOffset < 12 || back === 0) throw new PackError(`bad delta base at ${offset}`);
    } else if (type === REF_DELTA) {
      if (i + 20 > b.length) throw new PackError(`pack ends early at ${offset}`);
      h.baseOid = b.toString('hex', i, i + 20);
      i += 20;
    } else if (!TYPES[type]) throw new PackError(`object type ${type} at ${offset}`);
    h.dataStart = offset + i;
    return h;
  }

  /** Inflates an object held whole; returns it and the compressed length. */
  async inflate(h: Header, offset: number): Promise<{ content: Buffer; used: number }> {
    // deflate's worst case for stored data is a few bytes per 16 KiB block over the size.
    const window = await this.read(h.dataStart, h.size + (h.size >> 8) + 64);
    let out: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      out = zlib().inflateSync(window, { info: true, maxOutputLength: Math.max(h.size, 1) }) as unknown as typeof out;
    } catch (err) {
      throw new PackError(`damaged object at ${offset}: ${(err as Error).message}`);
    }
    if (out.buffer.length !== h.size) throw new PackError(`object at ${offset} has the wrong size`);
    return { content: out.buffer, used: out.engine.bytesWritten };
  }

  /** Inflates a large object into `sink` chunk by chunk; returns the compressed length. */
  async inflateTo(h: Header, offset: number, sink: (chunk: Buffer) => Promise<void>): Promise<number> {
    const inf = zlib().createInflate();
    let produced = 0;
    let ended = false;
    let failed: Error | undefined;
    // One write at a time, in order: the sink appends to a file and hashes as it goes.
    let writing: Promise<void> = Promise.resolve();
    inf.on('data', (d: Buffer) => {
      produced += d.length;
      if (produced > h.size) failed ??= new PackError(`object at ${offset} is larger than its header says`);
      else writing = writing.then(() => (failed ? undefined : sink(d))).catch((err) => void (failed ??= err));
    });
    inf.on('error', (err) => (failed ??= new PackError(`damaged object at ${offset}: ${err.message}`)));
    const done = once(inf, 'end').then(
      () => void (ended = true),
      () => undefined,
    );
    for (let pos = h.dataStart; !ended && !failed && pos < this.end; pos += CHUNK) {
      const chunk = await this.read(pos, CHUNK);
      await new Promise<void>((resolve) => inf.write(chunk, () => resolve()));
      // Let the inflater's events run before deciding to read on.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await writing;
    }
    if (!ended && !failed) {
      inf.end();
      await done;
    }
    await writing;
    inf.destroy();
    if (failed) throw failed;
    if (!ended) throw new PackError(`pack ends early in the object at ${offset}`);
    if (produced !== h.size) throw new PackError(`object at ${offset} has the wrong size`);
    return inf.bytesWritten;
  }
}

async function checkTrailer(fh: fs.FileHandle, size: number): Promise<void> {
  const sum = createHash('sha1');
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; pos < size - 20; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - 20 - pos), pos);
    if (bytesRead === 0) break;
    sum.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  const trailer = Buffer.alloc(20);
  await fh.read(trailer, 0, 20, size - 20);
  if (!sum.digest().equals(trailer)) throw new PackError('pack checksum mismatch (truncated or damaged)');
}

/** Blobs are born read-only, as the store keeps them: adopting one needs no chmod. */
export const BLOB_MODE = 0o444;

/** Writes one blob's file as it is inflated, hashing it on the way. */
async function blobWriter(file: string, size: number): Promise<{ hash: Hasher; write(chunk: Buffer): Promise<void>; close(): Promise<void> }> {
  const fh = await fs.open(file, 'w', BLOB_MODE);
  const hash = createHash('sha1').update(`blob ${size}\0`);
  return {
    hash,
    async write(chunk) {
      hash.update(chunk);
      await fh.write(chunk);
    },
    close: () => fh.close(),
  };
}

/**
 * Reads the pack at `file`. Throws PackError on any damage (bad checksum, truncation, a
 * delta without a base) and PackLimitError past `limits`.
 */
export async function indexPack(file: string, opts: IndexOptions): Promise<PackContents> {
  const fh = await fs.open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    if (fileSize < 32) throw new PackError('not a pack');
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    if (head.toString('latin1', 0, 4) !== 'PACK') throw new PackError('not a pack');
    const version = head.readUInt32BE(4);
    if (version !== 2 && version !== 3) throw new PackError(`pack version ${version}`);
    const count = head.readUInt32BE(8);
    await checkTrailer(fh, fileSize);

    const reader = new PackReader(fh, fileSize - 20);
    const out: PackContents = { small: new Map(), blobs: new Map() };
    const oidAt = new Map<number, { oid: string; type: ObjectType }>();
    const deltas: Delta[] = [];
    let blobBytes = 0;
    const countBlob = (n: number) => {
      blobBytes += n;
      if (blobBytes > opts.limits.blobBytes) throw new PackLimitError('blobs', blobBytes);
    };
    const placeOf = async (oid: string) => {
      const placed = await opts.place?.(oid);
      return placed ? { ...placed, flat: false } : { file: path.join(opts.blobDir, oid), mode: BLOB_MODE, flat: true };
    };
    const keep = async (offset: number, type: ObjectType, content: Buffer): Promise<void> => {
      const oid = objectId(type, content);
      oidAt.set(offset, { oid, type });
      if (type !== 'blob') {
        const obj = { type, content };
        out.small.set(oid, obj);
        opts.seen?.(oid, obj);
      }
      else if (!out.blobs.has(oid)) {
        countBlob(content.length);
        const { file, mode, flat } = await placeOf(oid);
        // Synchronous: thousands of small files, where three thread-pool round trips per
        // file (open, write, close) cost more than the writes themselves. 'wx': a placed
        // file never replaces (or follows) anything already there.
        try {
          fsSync.writeFileSync(file, content, { mode, flag: 'wx' });
        } catch (err) {
          // An earlier pack of the same fetch brought it: the name says the content. (A
          // placed file's name does not: two names one case apart on a disk that folds case.)
          if (!flat || (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        out.blobs.set(oid, file);
      }
    };
    const contentOf = async (oid: string): Promise<GitObject | undefined> => {
      const small = out.small.get(oid);
      if (small) return small;
      // Synchronous for the reason the blobs were written so: many small files.
      const file = out.blobs.get(oid);
      if (file) return { type: 'blob', content: fsSync.readFileSync(file) };
      return opts.external?.(oid);
    };
    /** Resolves a delta whose base is known; false when it is not (yet). */
    const resolve = async (d: Delta, content?: Buffer): Promise<boolean> => {
      const known = d.header.baseOffset !== undefined ? oidAt.get(d.header.baseOffset) : undefined;
      const base = known ? await contentOf(known.oid) : d.header.baseOid ? await contentOf(d.header.baseOid) : undefined;
      if (!base) return false;
      content ??= (await reader.inflate(d.header, d.offset)).content;
      await keep(d.offset, base.type, applyDelta(base.content, content, opts.limits.objectBytes));
      return true;
    };

    let pos = 12;
    for (let n = 0; n < count; n++) {
      if (pos >= reader.end) throw new PackError('pack ends early');
      const offset = pos;
      const h = await reader.header(offset);
      if (h.size > opts.limits.objectBytes) throw new PackLimitError('object', h.size);
      if (h.type === OFS_DELTA || h.type === REF_DELTA) {
        const { content, used } = await reader.inflate(h, offset);
        const d = { offset, header: h };
        // A REF_DELTA's base may come later: it is inflated again then.
        if (!(await resolve(d, content))) deltas.push(d);
        pos = h.dataStart + used;
      } else if (TYPES[h.type] === 'blob' && h.size > STREAM_ABOVE) {
        const tmp = path.join(opts.blobDir, `.in-${offset}`);
        const w = await blobWriter(tmp, h.size);
        let used: number;
        try {
          used = await reader.inflateTo(h, offset, (c) => w.write(c));
        } finally {
          await w.close();
        }
        const oid = w.hash.digest('hex');
        oidAt.set(offset, { oid, type: 'blob' });
        if (out.blobs.has(oid)) await fs.rm(tmp);
        else {
          countBlob(h.size);
          const { file, mode, flat } = await placeOf(oid);
          if (mode !== BLOB_MODE) await fs.chmod(tmp, mode);
          // link + unlink rather than rename: never replaces what is at `file`.
          await fs.link(tmp, file).catch((err) => {
            if (!flat || err.code !== 'EEXIST') throw err;
          });
          await fs.rm(tmp);
          out.blobs.set(oid, file);
        }
        pos = h.dataStart + used;
      } else {
        const { content, used } = await reader.inflate(h, offset);
        await keep(offset, TYPES[h.type], content);
        pos = h.dataStart + used;
      }
    }

    // A few rounds settle the deltas whose base came after them.
    let left = deltas;
    while (left.length) {
      const next: Delta[] = [];
      for (const d of left) if (!(await resolve(d))) next.push(d);
      if (next.length === left.length) throw new PackError(`${next.length} deltas have no base`);
      left = next;
    }
    return out;
  } finally {
    await fh.close();
  }
}
