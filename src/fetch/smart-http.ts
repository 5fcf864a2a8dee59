// A small client for git's smart HTTP protocol (v1, stateless): ref discovery and one
// upload-pack exchange. It replaces isomorphic-git's fetch on the hot path because that
// one cannot be told the refs it was just given, inflates every object in JavaScript
// twice (to index, then to read), and has no way to take only a snapshot's objects
// cheaply. Credentials travel only in the Authorization header (see http.ts).
import fs from 'node:fs/promises';
import { RevError } from '../errors.js';
import { httpRequest, networkError, redactUrl, statusError, type HttpOptions, type HttpResponse } from './http.js';
import { FLUSH, PktLineError, PktSplitter, pkt, text } from './pktline.js';
import { isSafeRefName } from './ref-name.js';

/** Git hosts serve smart HTTP only to agents that look like git (GitHub, Bitbucket). */
const USER_AGENT = 'git/2.0 (toes-rev)';

export interface Advertisement {
  refs: Map<string, string>;
  /** Peeled commit of annotated tags, by tag ref. */
  peeled: Map<string, string>;
  /** HEAD's target, when the server says (symref capability). */
  head?: string;
  caps: Set<string>;
  /** Where the repository answered from, after redirects: the pack request goes there. */
  url: string;
  /** The credential still valid there (dropped when a redirect changed the origin). */
  token?: string;
}

function endpoint(url: string, suffix: string): string {
  return url.replace(/\/+$/, '') + suffix;
}

function notSmart(url: string, why: string): RevError {
  return new RevError('UNREACHABLE', `${redactUrl(url)} does not look like a git repository served over smart HTTP (${why}); check the source URL.`, {
    data: { why },
  });
}

/** A body larger than the caller allows: the connection is dropped when it is seen. */
export class BodyTooLarge extends Error {
  constructor(readonly bytes: number) {
    super('body too large');
  }
}

async function readBody(res: HttpResponse, url: string, maxBytes: number, onBytes?: (n: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    // Read as it arrives; a body past `maxBytes` is cut off at once.
    for await (const c of res.body) {
      n += c.length;
      if (n > maxBytes) {
        res.body.destroy();
        throw new BodyTooLarge(n);
      }
      chunks.push(c);
      onBytes?.(n);
    }
  } catch (err) {
    if (err instanceof BodyTooLarge) throw err;
    throw networkError(url, err);
  }
  return Buffer.concat(chunks);
}

const DISCOVERY = '/info/refs?service=git-upload-pack';

/**
 * The server's refs. `wanted` says which to keep (HEAD's target, when the server names it,
 * is known before any ref but HEAD); without it every ref is kept.
 */
export async function discover(url: string, opts: HttpOptions & { maxBytes?: number; wanted?: (name: string, head?: string) => boolean }): Promise<Advertisement> {
  // Redirects are followed here, by hand, as git does: the pack request must go to where
  // the repository really is (a POST redirected by 301/302 would turn into a GET), and a
  // token is never carried to another host.
  let u = endpoint(url, DISCOVERY);
  let token = opts.token;
  let res = await httpRequest(u, { headers: { accept: 'application/x-git-upload-pack-advertisement', 'user-agent': USER_AGENT }, redirect: 'manual' }, { ...opts, token });
  for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && res.headers.location; hops++) {
    await readBody(res, u, 64 * 1024).catch(() => undefined);
    if (hops === 5) throw notSmart(url, 'too many redirects');
    const next = new URL(String(res.headers.location), u);
    if (next.origin !== new URL(u).origin) token = undefined;
    u = next.toString();
    res = await httpRequest(u, { headers: { accept: 'application/x-git-upload-pack-advertisement', 'user-agent': USER_AGENT }, redirect: 'manual' }, { ...opts, token });
  }
  if (res.statusCode !== 200) {
    await readBody(res, u, 64 * 1024).catch(() => undefined);
    throw statusError(url, res.statusCode, 'the repository');
  }
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-git-upload-pack-advertisement')) {
    res.body.destroy();
    throw notSmart(url, `content type "${type || 'none'}"`);
  }
  const ad: Advertisement = { refs: new Map(), peeled: new Map(), caps: new Set(), url };
  const lines = new RefLines(ad, opts.wanted);
  const split = new PktSplitter();
  const max = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
  let n = 0;
  try {
    // Parsed as it arrives and only the wanted refs kept: a million refs (60 MB of list)
    // cost what the frame being read costs, not 418 MB of body and maps (measured).
    for await (const c of res.body) {
      n += c.length;
      if (n > max) {
        res.body.destroy();
        throw new BodyTooLarge(n);
      }
      for (const line of split.push(c)) if (line !== null) lines.take(text(line));
    }
    split.end();
  } catch (err) {
    if (err instanceof BodyTooLarge) throw err;
    if (err instanceof PktLineError) throw notSmart(url, err.message);
    throw networkError(u, err);
  }
  ad.url = u.endsWith(DISCOVERY) ? u.slice(0, -DISCOVERY.length) : url;
  ad.token = token;
  return ad;
}

/** The advertisement's lines, one at a time, into `ad`: the first carries the capabilities. */
class RefLines {
  private first = true;
  constructor(
    private ad: Advertisement,
    private wanted?: (name: string, head?: string) => boolean,
  ) {}

  take(s: string): void {
    const ad = this.ad;
    if (s.startsWith('# service=')) return;
    let refPart = s;
    if (this.first) {
      this.first = false;
      const nul = s.indexOf('\0');
      if (nul >= 0) {
        refPart = s.slice(0, nul);
        for (const c of s.slice(nul + 1).split(' ')) if (c) ad.caps.add(c);
        for (const c of ad.caps) {
          const target = c.startsWith('symref=HEAD:') ? c.slice('symref=HEAD:'.length) : undefined;
          if (target && isSafeRefName(target)) ad.head = target;
        }
      }
    }
    const sp = refPart.indexOf(' ');
    const oid = refPart.slice(0, sp);
    const name = refPart.slice(sp + 1);
    if (sp !== 40 || !/^[0-9a-f]{40}$/.test(oid) || !name || name === 'capabilities^{}') return;
    const peeled = name.endsWith('^{}');
    const base = peeled ? name.slice(0, -3) : name;
    if (this.wanted && !this.wanted(base, ad.head)) return;
    if (!isSafeRefName(base)) return;
    if (peeled) ad.peeled.set(base, oid);
    else ad.refs.set(name, oid);
  }
}

export interface UploadPackRequest {
  want: string;
  haves: string[];
  /** Commits the store holds without their parents (a shallow store). */
  shallows: string[];
  /** Ask for this much history (1: the snapshot only); omitted: everything new. */
  depth?: number;
}

export interface UploadPackResult {
  shallow: string[];
  unshallow: string[];
  /** Bytes of the whole answer. */
  bytes: number;
  /** Bytes of pack written to the file (0: the server had nothing to send). */
  packBytes: number;
}

const WRITE_BEHIND = 8 * 1024 * 1024;

/**
 * Asks for a pack and writes it to `opts.packFile` as it arrives, so a large snapshot is
 * never held in memory. Past `opts.maxBytes` the connection is dropped (BodyTooLarge).
 */
export async function uploadPack(
  url: string,
  req: UploadPackRequest,
  ad: Advertisement,
  opts: HttpOptions & { onBytes?: (n: number) => void; maxBytes?: number; packFile: string },
): Promise<UploadPackResult> {
  const need = ['side-band-64k', 'ofs-delta'];
  for (const c of need) if (!ad.caps.has(c)) throw notSmart(url, `server lacks ${c}`);
  if (!ad.caps.has('shallow')) {
    // An old or minimal server: ask for everything; the store simply holds history.
    req = { ...req, depth: undefined, shallows: [] };
  }
  const caps = ['side-band-64k', 'ofs-delta', 'no-progress', ...(ad.caps.has('shallow') ? ['shallow'] : []), 'agent=toes-rev'];
  const parts: Buffer[] = [pkt(`want ${req.want} ${caps.join(' ')}\n`)];
  for (const s of req.shallows) parts.push(pkt(`shallow ${s}\n`));
  if (req.depth) parts.push(pkt(`deepen ${req.depth}\n`));
  parts.push(FLUSH);
  for (const h of req.haves) parts.push(pkt(`have ${h}\n`));
  parts.push(pkt('done\n'));
  const u = endpoint(ad.url, '/git-upload-pack');
  opts = { ...opts, token: ad.token };
  const res = await httpRequest(
    u,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-git-upload-pack-request', accept: 'application/x-git-upload-pack-result', 'user-agent': USER_AGENT },
      body: Buffer.concat(parts),
    },
    opts,
  );
  if (res.statusCode !== 200) {
    await readBody(res, u, 64 * 1024).catch(() => undefined);
    throw statusError(url, res.statusCode, 'the repository');
  }
  const out: UploadPackResult = { shallow: [], unshallow: [], bytes: 0, packBytes: 0 };
  const max = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const split = new PktSplitter();
  const file = await fs.open(opts.packFile, 'w', 0o600);
  const body = res.body;
  let writing: Promise<unknown> = Promise.resolve();
  let queued = 0;
  let writeFailed: unknown;
  try {
    try {
      // Read as it arrives; the file is written behind it, in order.
      for await (const c of body) {
        if (writeFailed) throw writeFailed;
        // Only a disk far slower than the network makes the download wait (memory stays bounded).
        if (queued > WRITE_BEHIND) await writing;
        out.bytes += c.length;
        if (out.bytes > max) {
          body.destroy();
          throw new BodyTooLarge(out.bytes);
        }
        opts.onBytes?.(out.bytes);
        for (const line of split.push(c)) {
          if (line === null || line.length === 0) continue;
          const band = line[0];
          if (band === 1) {
            const data = line.subarray(1);
            out.packBytes += data.length;
            queued += data.length;
            writing = writing
              .then(() => (writeFailed ? undefined : file.write(data)))
              .catch((err) => (writeFailed ??= err))
              .finally(() => (queued -= data.length));
          } else if (band === 2) continue; // progress text
          else if (band === 3) throw new RevError('UNREACHABLE', `${redactUrl(url)} reported an error while sending the pack: ${text(line.subarray(1)).slice(0, 200)}.`);
          else {
            const s = text(line);
            if (s.startsWith('shallow ')) out.shallow.push(s.slice(8));
            else if (s.startsWith('unshallow ')) out.unshallow.push(s.slice(10));
            else if (s.startsWith('ERR ')) throw new RevError('REF_NOT_FOUND', `${redactUrl(url)} refused the fetch: ${s.slice(4, 200)}.`);
            // NAK / ACK lines need no action: "done" was already sent.
          }
        }
      }
      split.end();
    } finally {
      await writing;
    }
    if (writeFailed) throw writeFailed;
  } catch (err) {
    if (err instanceof RevError || err instanceof BodyTooLarge || err === writeFailed) throw err;
    if (err instanceof PktLineError) {
      throw new RevError('UNREACHABLE', `The answer from ${redactUrl(url)} was cut off or garbled (${(err as Error).message}); deploy again.`, { cause: err });
    }
    throw networkError(u, err);
  } finally {
    await file.close();
  }
  return out;
}
