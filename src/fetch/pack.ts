// Reads a git packfile in one pass with the platform's zlib: every object is inflated
// once, deltas are applied against bases from the same pack (or the store), and each
// object comes out with its id. The pack is never written to disk: blobs go to the blob
// store, trees and commits to loose objects (objects.ts).
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
export interface GitObject {
  type: ObjectType;
  content: Buffer;
}

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;

export class PackError extends Error {}

/** A pack that is whole but holds more than the caller allows. */
export class PackLimitError extends Error {
  constructor(
    readonly limit: 'object' | 'blobs',
    readonly size: number,
  ) {
    super(`pack ${limit} limit`);
  }
}

export interface PackLimits {
  /** Bytes of one object, checked against its header before it is inflated. */
  objectBytes: number;
  /** Bytes of all blobs together. */
  blobBytes: number;
}

const NO_LIMITS: PackLimits = { objectBytes: 1 << 30, blobBytes: Number.MAX_SAFE_INTEGER };

export function objectId(type: ObjectType, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

function readVarint(buf: Buffer, pos: { i: number }): number {
  let n = 0;
  let mul = 1;
  let c: number;
  do {
    c = buf[pos.i++];
    n += (c & 0x7f) * mul;
    mul *= 128;
  } while (c & 0x80);
  return n;
}

export function applyDelta(base: Buffer, delta: Buffer, maxBytes = NO_LIMITS.objectBytes): Buffer {
  const pos = { i: 0 };
  const srcSize = readVarint(delta, pos);
  if (srcSize !== base.length) throw new PackError('delta base size mismatch');
  const dstSize = readVarint(delta, pos);
  // A hostile header must not make us allocate without limit.
  if (dstSize > maxBytes) throw new PackLimitError('object', dstSize);
  const out = Buffer.allocUnsafe(dstSize);
  let o = 0;
  while (pos.i < delta.length) {
    const op = delta[pos.i++];
    if (op & 0x80) {
      let off = 0;
      let size = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) off += delta[pos.i++] * 2 ** (8 * b);
      for (let b = 0; b < 3; b++) if (op & (0x10 << b)) size += delta[pos.i++] << (8 * b);
      if (size === 0) size = 0x10000;
      if (off + size > base.length || o + size > out.length) throw new PackError('delta copy out of range');
      base.copy(out, o, off, off + size);
      o += size;
    } else if (op) {
      if (o + op > out.length || pos.i + op > delta.length) throw new PackError('delta insert out of range');
      delta.copy(out, o, pos.i, pos.i + op);
      o += op;
      pos.i += op;
    } else throw new PackError('delta opcode 0');
  }
  if (o !== out.length) throw new PackError('delta result size mismatch');
  return out;
}

interface Pending {
  offset: number;
  baseOffset?: number;
  baseOid?: string;
  delta: Buffer;
}

/**
 * Parses a whole pack. `external` supplies REF_DELTA bases that are not in the pack.
 * Returns every object by id. Throws PackError on any damage (bad checksum, truncation).
 */
export function parsePack(pack: Buffer, external?: (oid: string) => GitObject | undefined, limits: PackLimits = NO_LIMITS): Map<string, GitObject> {
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') throw new PackError('not a pack');
  const version = pack.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new PackError(`pack version ${version}`);
  const count = pack.readUInt32BE(8);
  const end = pack.length - 20;
  const sum = createHash('sha1').update(pack.subarray(0, end)).digest();
  if (!sum.equals(pack.subarray(end))) throw new PackError('pack checksum mismatch (truncated or damaged)');

  let blobBytes = 0;
  const countBlob = (obj: GitObject): void => {
    if (obj.type !== 'blob') return;
    blobBytes += obj.content.length;
    if (blobBytes > limits.blobBytes) throw new PackLimitError('blobs', blobBytes);
  };
  const byOffset = new Map<number, GitObject>();
  const byId = new Map<string, GitObject>();
  const pending: Pending[] = [];
  const pos = { i: 12 };
  for (let n = 0; n < count; n++) {
    if (pos.i >= end) throw new PackError('pack ends early');
    const offset = pos.i;
    let c = pack[pos.i++];
    const type = (c >> 4) & 7;
    let size = c & 15;
    let mul = 16;
    while (c & 0x80) {
      c = pack[pos.i++];
      size += (c & 0x7f) * mul;
      mul *= 128;
    }
    let baseOffset: number | undefined;
    let baseOid: string | undefined;
    if (type === OFS_DELTA) {
      c = pack[pos.i++];
      let back = c & 0x7f;
      while (c & 0x80) {
        c = pack[pos.i++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      baseOffset = offset - back;
    } else if (type === REF_DELTA) {
      baseOid = pack.toString('hex', pos.i, pos.i + 20);
      pos.i += 20;
    } else if (!TYPES[type]) throw new PackError(`object type ${type} at ${offset}`);
    if (size > limits.objectBytes) throw new PackLimitError('object', size);
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      // The header's size bounds the output: a hostile pack cannot inflate without limit.
      inflated = zlib.inflateSync(pack.subarray(pos.i, end), { info: true, maxOutputLength: Math.max(size, 1) }) as unknown as typeof inflated;
    } catch (err) {
      throw new PackError(`damaged object at ${offset}: ${(err as Error).message}`);
    }
    pos.i += inflated.engine.bytesWritten;
    if (inflated.buffer.length !== size) throw new PackError(`object at ${offset} has the wrong size`);
    if (baseOffset === undefined && baseOid === undefined) {
      const obj = { type: TYPES[type], content: inflated.buffer };
      countBlob(obj);
      byOffset.set(offset, obj);
      byId.set(objectId(obj.type, obj.content), obj);
    } else pending.push({ offset, baseOffset, baseOid, delta: inflated.buffer });
  }
  // Bases usually come first; a few rounds settle any that do not.
  let left = pending;
  while (left.length) {
    const next: Pending[] = [];
    for (const p of left) {
      const base = p.baseOffset !== undefined ? byOffset.get(p.baseOffset) : (byId.get(p.baseOid!) ?? external?.(p.baseOid!));
      if (!base) {
        next.push(p);
        continue;
      }
      const obj = { type: base.type, content: applyDelta(base.content, p.delta, limits.objectBytes) };
      countBlob(obj);
      byOffset.set(p.offset, obj);
      byId.set(objectId(obj.type, obj.content), obj);
    }
    if (next.length === left.length) throw new PackError(`${next.length} deltas have no base`);
    left = next;
  }
  return byId;
}
