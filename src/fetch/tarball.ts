// The tarball source: the archive is streamed from the network through a hash and gunzip
// into tar's unpacker, never held in memory. Every header is checked before anything is
// written for it; the first unsafe entry aborts the whole unpack and nothing is published.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Unpack, type ReadEntry } from 'tar';
import { RevError, translateSystemError } from '../errors.js';
import type { BlobStore } from './blobs.js';
import { httpRequest, redactUrl, statusError, type HttpOptions } from './http.js';
import { ingestDir } from './ingest.js';
import { checkLinkTarget, checkRelativePath, type Snapshot } from './snapshot.js';

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

export function isTarballUrl(src: string): boolean {
  return /\.(tar\.gz|tgz)(\?.*)?$/i.test(src);
}

/** Raises UNSAFE_ENTRY for a header that could write outside the unpack root. */
export function checkTarHeader(entryPath: string, type: string, linkpath: string | undefined): void {
  const clean = entryPath.replace(/\/+$/, '');
  if (clean === '' || clean === '.') return;
  checkRelativePath(clean.replace(/^\.\//, ''));
  if (!ALLOWED.has(type)) {
    throw new RevError('UNSAFE_ENTRY', `Refused to deploy: the archive entry "${clean}" is a ${type}, not a file; nothing was published.`, {
      data: { path: clean, type },
    });
  }
  if (type === 'SymbolicLink') checkLinkTarget(clean, linkpath ?? '');
  if (type === 'Link') checkRelativePath((linkpath ?? '').replace(/^\.\//, ''));
}

/** Unpacks a gzip'd tar stream into `dest`, refusing unsafe entries. Returns the sha256 of the raw bytes. */
export async function unpackTarball(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, dest: string): Promise<string> {
  const hash = createHash('sha256');
  let violation: unknown;
  const tap = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const unpack = new Unpack({
    cwd: dest,
    strict: true,
    preserveOwner: false,
    // Our own checks run first; tar's stripping of ".." and "/" would silently rewrite paths.
    preservePaths: true,
    filter: (p: string, entry: unknown) => {
      if (violation) return false;
      const e = entry as ReadEntry;
      try {
        checkTarHeader(p, e.type, e.linkpath);
        return true;
      } catch (err) {
        violation = err;
        unpack.abort(err as Error);
        return false;
      }
    },
  });
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('close', resolve);
    unpack.on('error', reject);
  });
  try {
    await pipeline(source as NodeJS.ReadableStream, tap, zlib.createGunzip(), unpack);
    await done;
  } catch (err) {
    if (violation) throw violation;
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof RevError) throw err;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw translateSystemError(err, 'unpacking the archive');
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ENTRY_INVALID' || code === 'TAR_ABORT' || code === 'ERR_STREAM_PREMATURE_CLOSE' || /unexpected end|incorrect header|invalid/i.test(String((err as Error).message))) {
      throw new RevError('BAD_ARCHIVE', `The archive is not a complete .tar.gz (${(err as Error).message.split('\n')[0]}); check the URL points at a tarball and deploy again.`, { cause: err });
    }
    throw err;
  }
  if (violation) throw violation;
  return hash.digest('hex');
}

/** The folder GitHub and Gitea wrap an archive in: the only entry at the top, if a directory. */
async function archiveRoot(dir: string): Promise<string> {
  const names = await fs.readdir(dir, { withFileTypes: true });
  if (names.length === 1 && names[0].isDirectory()) return path.join(dir, names[0].name);
  return dir;
}

export interface TarballFetchOptions extends HttpOptions {
  tmpRoot: string;
  blobs: BlobStore;
}

export async function fetchTarball(url: string, opts: TarballFetchOptions): Promise<Snapshot> {
  const tmp = path.join(opts.tmpRoot, `tar-${randomBytes(6).toString('hex')}`);
  await fs.mkdir(tmp, { recursive: true });
  try {
    let bytes = 0;
    let hash: string;
    if (url.startsWith('file://') || url.startsWith('/')) {
      const file = url.startsWith('file://') ? new URL(url).pathname : url;
      const { createReadStream } = await import('node:fs');
      const st = await fs.stat(file).catch(() => null);
      if (!st) throw new RevError('NO_SOURCE', `The archive ${file} does not exist; check the path.`);
      bytes = st.size;
      hash = await unpackTarball(createReadStream(file), tmp);
    } else {
      const res = await httpRequest(url, {}, opts);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw statusError(url, res.statusCode, 'the archive');
      }
      const counted = res.body.on('data', (c: Buffer) => (bytes += c.length));
      hash = await unpackTarball(counted, tmp);
    }
    const entries = await ingestDir(await archiveRoot(tmp), opts.blobs, { gitignore: false, move: true });
    return { version: hash, kind: 'tarball', entries, bytesFetched: bytes };
  } catch (err) {
    if (err instanceof RevError) throw err;
    throw translateSystemError(err, `fetching ${redactUrl(url)}`);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
