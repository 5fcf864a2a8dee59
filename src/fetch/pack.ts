// Git's object model as the pack reader needs it: object ids, delta application, and the
// errors a damaged or oversized pack raises. Reading a pack file is pack-file.ts.
import { createHash } from './hash.js';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
export interface GitObject {
  type: ObjectType;
  content: Buffer;
}

/** Object type codes in a pack entry's header. */
export const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
export const OFS_DELTA = 6;
export const REF_DELTA = 7;

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
