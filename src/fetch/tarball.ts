// The tarball source: the archive is streamed from the network (or a local file) through
// a hash and gunzip into tar's parser, never held in memory. We do the writing ourselves,
// one entry at a time: every header is checked against what the archive has created so
// far before anything is written for it, files are created with O_EXCL|O_NOFOLLOW, and
// the first unsafe entry aborts the whole unpack. Nothing is published from a refused
// archive, and every write has settled before the caller removes the unpack directory.
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { ReadEntry } from 'tar';
import { RevError, translateSystemError } from '../errors.js';
import { checkLocalArchive, localArchivePath, rememberArchive, validatorsOf } from './archive-id.js';
import type { BlobStore } from './blobs.js';
import { HttpTimeout, hostOf, httpRequest, redactUrl, statusError, type HttpBody, type HttpOptions } from './http.js';
import { ingestDir } from './ingest.js';
import { Budget, DEFAULT_LIMITS, limitError, withDefaults, type SourceLimits } from './limits.js';
import { checkLinkTarget, checkRelativePath, displayName, unsafeEntryError, type Snapshot } from './snapshot.js';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const NOT_A_FILE: Record<string, string> = {
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO (named pipe)',
};


function unsafeEntry(entryPath: string, why: string, data: Record<string, unknown> = {}): RevError {
  return unsafeEntryError(entryPath, why, data, 'archive entry', 'fix the archive');
}

function badArchive(why: string, cause?: unknown): RevError {
  return new RevError('BAD_ARCHIVE', `The archive ${why}, so nothing was published; check that the source points at a complete .tar.gz and deploy again.`, {
    data: { why },
    cause,
  });
}

/** A tar path as the archive means it: without "./" in front or "/" at the end. */
function tarPath(raw: string): string {
  let p = raw;
  while (p.startsWith('./')) p = p.slice(2);
  // A lone "/" stays: it is absolute, not the root entry.
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

type Kind = 'dir' | 'file' | 'symlink';

/**
 * What the archive has created so far, in header order. Checks each new header against it:
 * the path is plain and relative, no ancestor is a symlink (a write through a symlink could
 * land anywhere) or a file, links stay inside, and nothing is written twice.
 */
class TarTree {
  constructor(private budget: Budget) {}
  readonly kinds = new Map<string, Kind>();
  readonly links = new Map<string, string>();
  /** Entries accepted (the root "./" entry excluded). */
  count = 0;

  /**
   * Validates one header and records it. Returns the normalized path, or undefined for the
   * archive's own root ("./"), which is skipped. Throws UNSAFE_ENTRY (or BAD_ARCHIVE).
   */
  admit(rawPath: string, type: string, rawLinkpath: string | undefined, size: number): string | undefined {
    const p = tarPath(rawPath);
    if (p === '' || p === '.') {
      if (type === 'Directory') return undefined;
      throw unsafeEntry(rawPath, 'names the unpack directory itself');
    }
    checkRelativePath(p);
    this.budget.entry(p);
    // Checked against the header, before a byte of it is written.
    if (FILE_TYPES.has(type)) this.budget.file(p, size);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const kind = this.kinds.get(dir);
      if (kind === 'symlink') throw unsafeEntry(p, `lies below the symlink "${displayName(dir)}", which a write could follow out of the release`);
      if (kind === 'file') throw badArchive(`has the entry "${displayName(p)}" below the file "${displayName(dir)}"`);
    }
    const before = this.kinds.get(p);
    if (before !== undefined && !(before === 'dir' && type === 'Directory')) throw unsafeEntry(p, 'appears twice');

    if (NOT_A_FILE[type]) throw unsafeEntry(p, `is ${NOT_A_FILE[type]}, which a release may not contain`, { type });
    let kind: Kind;
    if (type === 'Directory') kind = 'dir';
    else if (FILE_TYPES.has(type)) kind = 'file';
    else if (type === 'SymbolicLink') {
      const target = rawLinkpath ?? '';
      checkLinkTarget(p, target, this.links);
      this.links.set(p, target);
      kind = 'symlink';
    } else if (type === 'Link') {
      const target = tarPath(rawLinkpath ?? '');
      if (target === '' || target.startsWith('/') || target.split('/').includes('..')) {
        throw unsafeEntry(p, `is a hard link to "${displayName(rawLinkpath ?? '')}", outside the release`, { target: rawLinkpath });
      }
      checkRelativePath(target);
      if (this.kinds.get(target) !== 'file') {
        throw unsafeEntry(p, `is a hard link to "${displayName(target)}", which is not a regular file earlier in the archive`, { target });
      }
      const tparts = target.split('/');
      for (let i = 1; i < tparts.length; i++) {
        if (this.kinds.get(tparts.slice(0, i).join('/')) !== 'dir') {
          throw unsafeEntry(p, `is a hard link to "${displayName(target)}" through something that is not a directory`, { target });
        }
      }
      kind = 'file';
    } else {
      throw unsafeEntry(p, `is of the unsupported tar type ${type}`, { type });
    }
    for (let i = 1; i < parts.length; i++) this.kinds.set(parts.slice(0, i).join('/'), 'dir');
    this.kinds.set(p, kind);
    this.count++;
    return p;
  }
}

/** Creates one admitted entry under `root` (whose real path is `realRoot`). */
async function writeEntry(root: string, realRoot: string, rel: string, entry: ReadEntry, signal: AbortSignal): Promise<void> {
  const abs = path.join(root, ...rel.split('/'));
  if (entry.type === 'Directory') {
    await fs.mkdir(abs, { recursive: true, mode: 0o755 });
    entry.resume();
    return;
  }
  await fs.mkdir(path.dirname(abs), { recursive: true, mode: 0o755 });
  // Belt and braces: the tree check keeps symlinks out of every parent, and this proves it.
  const parent = await fs.realpath(path.dirname(abs));
  if (parent !== realRoot && !parent.startsWith(realRoot + path.sep)) throw unsafeEntry(rel, 'resolves outside the release');
  if (entry.type === 'SymbolicLink') {
    await fs.symlink(entry.linkpath ?? '', abs);
    entry.resume();
  } else if (entry.type === 'Link') {
    await fs.link(path.join(root, ...tarPath(entry.linkpath ?? '').split('/')), abs);
    entry.resume();
  } else {
    // O_EXCL|O_NOFOLLOW: never reuse, and never write through, anything already there.
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
    const mode = (entry.mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
    const handle = await fs.open(abs, flags, mode);
    // The stream closes the handle when it finishes or is destroyed (autoClose).
    await pipeline(entry, handle.createWriteStream(), { signal });
  }
}

export interface UnpackResult {
  /** sha256 of the raw archive bytes. */
  sha256: string;
  /** Raw (compressed) bytes read. */
  bytes: number;
  /** Entries written (files, directories and links). */
  entries: number;
}

function isZlibError(err: unknown): boolean {
  return /^Z_/.test(String((err as NodeJS.ErrnoException | undefined)?.code ?? ''));
}

/**
 * Unpacks a gzip'd tar stream into the (empty) directory `dest`, refusing unsafe entries.
 * Errors: BAD_ARCHIVE (empty, not gzip, not tar, truncated), UNSAFE_ENTRY, DISK_FULL, and
 * whatever the source stream itself throws (RevErrors pass through unchanged). When it
 * rejects, every write it started has settled, so `dest` can be removed straight away.
 */
export async function unpackTarball(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  dest: string,
  onBytes?: (total: number) => void,
  limits: SourceLimits = DEFAULT_LIMITS,
): Promise<UnpackResult> {
  // Compressed, an archive is smaller than its files; past this it is not one snapshot.
  const maxRaw = limits.snapshotBytes + (limits.snapshotBytes >> 4) + 1024 * 1024;
  const realRoot = await fs.realpath(dest);
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes > maxRaw) return cb(limitError('snapshotBytes', limits, 'The archive is larger than'));
      onBytes?.(bytes);
      cb(null, chunk);
    },
  });

  const tree = new TarTree(new Budget(limits));
  const stop = new AbortController();
  let failure: unknown; // the first refusal, tar parse error or write error
  let tarError: unknown;
  let sawEnd = false;
  const fail = (err: unknown): void => {
    failure ??= err;
    stop.abort();
  };
  // Entries are written strictly in order; `chain` settles once the last one has.
  let chain: Promise<void> = Promise.resolve();
  // tar is imported here, not at the top: in a one-file bundle that would load it at
  // every deploy's start, git deploys included.
  const { Parser } = await import('tar');
  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  parser.on('entry', (entry: ReadEntry) => {
    let rel: string | undefined;
    try {
      if (failure) throw failure;
      rel = tree.admit(entry.path, entry.type, entry.linkpath, entry.size ?? 0);
    } catch (err) {
      fail(err);
      entry.resume();
      return;
    }
    if (rel === undefined) {
      entry.resume();
      return;
    }
    const name = rel;
    chain = chain.then(async () => {
      try {
        if (failure) throw failure;
        await writeEntry(dest, realRoot, name, entry, stop.signal);
      } catch (err) {
        fail(err);
        entry.resume();
      }
    });
  });
  // tar skips what it does not know (sparse files, vendor types, oversized pax headers);
  // silently dropping part of an app is not acceptable, so those refuse the archive.
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (entry.meta) fail(badArchive(`has an extended header larger than tar accepts before "${displayName(entry.path)}"`));
    else fail(unsafeEntry(entry.path, `is of the unsupported tar type ${displayName(String(entry.type ?? entry.header?.typeKey ?? 'unknown'))}`, { type: entry.type }));
    entry.resume();
  });
  parser.on('eof', () => (sawEnd = true));
  parser.on('error', (err: unknown) => {
    tarError ??= err;
    fail(err);
  });

  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (failure) return cb(failure as Error);
      try {
        if (parser.write(chunk)) cb();
        else parser.once('drain', () => cb());
      } catch (err) {
        fail(err);
        cb(err as Error);
      }
    },
    final(cb) {
      if (failure) return cb(failure as Error);
      parser.once('end', () => cb(failure as Error | undefined));
      parser.end();
    },
  });
  stop.signal.addEventListener('abort', () => sink.destroy(failure as Error));

  let sourceError: unknown;
  const input = source as AsyncIterable<Uint8Array>;
  const guardedSource = (async function* () {
    try {
      for await (const chunk of input) yield chunk;
    } catch (err) {
      sourceError = err;
      throw err;
    }
  })();

  try {
    await pipeline(guardedSource, tap, zlib.createGunzip(), sink);
  } catch (err) {
    // Records the cause (unless a refusal came first) and cancels the write in flight.
    fail(err);
  }
  // Every write that was started finishes (or fails) before anything is decided.
  await chain;

  const err = sourceError ?? failure;
  if (err === undefined) {
    if (tree.count === 0) throw badArchive('contains no files');
    return { sha256: hash.digest('hex'), bytes, entries: tree.count };
  }
  if (err instanceof RevError || err === sourceError) throw err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw translateSystemError(err, 'unpacking the archive');
  if (bytes === 0) throw badArchive('is empty', err);
  if (isZlibError(err)) {
    // zlib's code for input that ends inside the compressed stream ("unexpected end of file").
    if (code === 'Z_BUF_ERROR') throw badArchive('ends early (the download or the file is truncated)', err);
    throw badArchive('is not gzip-compressed, or its compressed data is corrupt', err);
  }
  if (err === tarError) {
    const tarCode = (err as { tarCode?: string }).tarCode;
    const message = String((err as Error).message).replace(/^TAR_[A-Z_]+: /, '').split('\n')[0];
    // tar names the entry it was reading only when the data ends inside it ("Truncated input").
    if (tarCode === 'TAR_BAD_ARCHIVE' && (err as { entry?: unknown }).entry !== undefined) throw badArchive('ends early (the tar data inside is truncated)', err);
    if (tree.count === 0 && sawEnd) throw badArchive('contains no files');
    if (tree.count === 0) throw badArchive('is gzip-compressed but not a tar archive', err);
    throw badArchive(`has a damaged tar entry (${tarCode ?? 'tar'}: ${message})`, err);
  }
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') throw badArchive('ends early', err);
  throw err;
}

/** The folder GitHub and Gitea wrap an archive in: the only entry at the top, if a directory. */
async function archiveRoot(dir: string): Promise<string> {
  const names = await fs.readdir(dir, { withFileTypes: true });
  if (names.length === 1 && names[0].isDirectory()) return path.join(dir, names[0].name);
  return dir;
}

export interface TarballFetchOptions extends HttpOptions {
  limits?: SourceLimits;
  tmpRoot: string;
  blobs: BlobStore;
  /** The sha256 the probe found for a local archive: the bytes unpacked must be those. */
  expect?: string;
  /** Where to remember a remote archive's validators with its hash (archive-id.ts). */
  remember?: { storeRoot: string; owner: string };
  onProgress?: (p: { phase: string; loaded: number; total?: number }) => void;
}

/** A dropped or stalled download, as opposed to bytes that arrived but are not an archive. */
function downloadError(url: string, err: unknown): RevError {
  const code = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.name ?? 'error';
  const why = err instanceof HttpTimeout ? 'stalled (no data arrived in time)' : code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'broke off before its end' : `broke off (${code})`;
  return new RevError('UNREACHABLE', `The download of the archive from ${hostOf(url)} ${why}, so nothing was published; check the network and deploy again.`, {
    data: { host: hostOf(url), cause: code },
    cause: err,
  });
}

/** The body's chunks, with a dropped or stalled connection turned into UNREACHABLE. */
async function* downloadChunks(body: HttpBody, url: string): AsyncIterable<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw downloadError(url, err);
  }
}

export async function fetchTarball(url: string, opts: TarballFetchOptions): Promise<Snapshot> {
  const limits = withDefaults(opts.limits);
  const tmp = path.join(opts.tmpRoot, `tar-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(tmp, { recursive: true });
  try {
    let result: UnpackResult;
    const file = localArchivePath(url);
    if (file !== undefined) {
      const total = await checkLocalArchive(file);
      result = await unpackTarball(createReadStream(file), tmp, (loaded) => opts.onProgress?.({ phase: 'archive', loaded, total }), limits);
      if (opts.expect && result.sha256 !== opts.expect) {
        throw new RevError('SOURCE_CHANGED', `The archive ${file} changed while it was being read; deploy again once it stops changing.`, { data: { file } });
      }
    } else {
      const res = await httpRequest(url, {}, opts);
      if (res.statusCode !== 200) {
        res.body.destroy();
        throw statusError(url, res.statusCode, 'the archive');
      }
      const length = Number(res.headers['content-length']);
      const total = Number.isFinite(length) && length > 0 ? length : undefined;
      const body = res.body;
      try {
        result = await unpackTarball(downloadChunks(body, url), tmp, (loaded) => opts.onProgress?.({ phase: 'download', loaded, total }), limits);
      } finally {
        // After a refusal, hang up rather than leave the rest of the download pending.
        body.destroy();
      }
      // Only now, with the bytes hashed whole: the next deploy can tell these bytes by them.
      if (opts.remember) await rememberArchive(opts.remember.storeRoot, opts.remember.owner, url, { ...validatorsOf(res.headers), sha256: result.sha256 }).catch(() => undefined);
    }
    const entries = await ingestDir(await archiveRoot(tmp), opts.blobs, { gitignore: false, move: true });
    return { version: result.sha256, kind: 'tarball', entries, bytesFetched: result.bytes };
  } catch (err) {
    if (err instanceof RevError) throw err;
    throw translateSystemError(err, `fetching ${redactUrl(url)}`);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}
