// Knowing an archive's version (the sha256 of its bytes) without unpacking it, so that a
// redeploy of an archive that is live already, or has a sealed release, costs no unpack:
// - a local archive is hashed where it lies (one sequential read, far cheaper than
//   creating its files);
// - a remote one is recognised by the validators its server sent with the bytes we last
//   hashed (a strong ETag, else Last-Modified with the same length), asked for with one
//   HEAD request. A server without validators, or with changed ones, gets the full
//   streamed download and unpack, exactly as a new archive does.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RevError } from '../errors.js';
import { httpRequest, redactUrl, type HttpOptions } from './http.js';

/** What a server said about the bytes of an archive we hashed. */
export interface ArchiveSeen {
  etag?: string;
  lastModified?: string;
  length?: number;
  sha256: string;
}

/** Where a local archive lives, for a `file://` URL or a path; undefined for http(s). */
export function localArchivePath(url: string): string | undefined {
  if (/^https?:\/\//i.test(url)) return undefined;
  if (/^file:\/\//i.test(url)) return fileURLToPath(url);
  return path.resolve(url);
}

export async function checkLocalArchive(file: string): Promise<number> {
  const st = await fs.stat(file).catch(() => null);
  if (!st) throw new RevError('NO_SOURCE', `The archive ${file} does not exist; check the path.`);
  if (!st.isFile()) throw new RevError('NO_SOURCE', `The archive ${file} is not a regular file; check the path.`);
  return st.size;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk);
  return hash.digest('hex');
}

/** One small file per app and archive URL (credentials are never part of the key). */
function seenFile(storeRoot: string, owner: string, url: string): string {
  const key = createHash('sha256').update(redactUrl(url)).digest('hex').slice(0, 16);
  return path.join(storeRoot, 'archives', `${owner}-${key}.json`);
}

/** Validators a later HEAD may match: strong ETags only (a weak one may hide byte changes). */
export function validatorsOf(headers: Record<string, string | string[] | undefined>): Omit<ArchiveSeen, 'sha256'> {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const etag = one(headers.etag);
  const length = Number(one(headers['content-length']));
  return {
    etag: etag && !etag.startsWith('W/') ? etag : undefined,
    lastModified: one(headers['last-modified']),
    length: Number.isFinite(length) && length > 0 ? length : undefined,
  };
}

export async function rememberArchive(storeRoot: string, owner: string, url: string, seen: ArchiveSeen): Promise<void> {
  if (!seen.etag && !seen.lastModified) return;
  const file = seenFile(storeRoot, owner, url);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, JSON.stringify(seen));
  await fs.rename(tmp, file);
}

function matches(was: ArchiveSeen, now: Omit<ArchiveSeen, 'sha256'>): boolean {
  if (was.etag || now.etag) return !!was.etag && was.etag === now.etag;
  return !!was.lastModified && was.lastModified === now.lastModified && was.length !== undefined && was.length === now.length;
}

/**
 * The version of the archive at `url` if it is the one hashed before (by its validators),
 * else undefined: the fetch then downloads it. Never throws for a server that refuses HEAD
 * or is unreachable: the fetch that follows reports the real problem.
 */
export async function knownRemoteArchive(storeRoot: string, owner: string, url: string, opts: HttpOptions): Promise<string | undefined> {
  let was: ArchiveSeen;
  try {
    was = JSON.parse(await fs.readFile(seenFile(storeRoot, owner, url), 'utf8'));
    if (!/^[0-9a-f]{64}$/.test(was.sha256)) return undefined;
  } catch {
    return undefined;
  }
  try {
    const res = await httpRequest(url, { method: 'HEAD' }, opts);
    // A HEAD answer has no body: reading its end frees the connection for the download.
    res.body.resume();
    if (res.statusCode !== 200) return undefined;
    return matches(was, validatorsOf(res.headers)) ? was.sha256 : undefined;
  } catch {
    return undefined;
  }
}
