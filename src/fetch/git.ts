// The git source: smart HTTP through isomorphic-git, into a bare store kept between
// deploys. A first fetch takes only the snapshot (depth 1); later fetches send the
// previous tip as a "have" so the server sends only what is new. File contents are then
// copied from the object database into the blob store, once per content.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import git from 'isomorphic-git';
import type { GitHttpRequest, GitHttpResponse, HttpClient, ServerRef } from 'isomorphic-git';
import { RevError, translateSystemError } from '../errors.js';
import { httpRequest, networkError, redactUrl, statusError, type HttpOptions } from './http.js';
import { checkEntries, type Entry, type Snapshot } from './snapshot.js';
import { BlobStore } from './blobs.js';
import { mapLimit } from './pool.js';

export interface GitTarget {
  /** Full remote ref name (refs/heads/main, refs/tags/v1), or '' when a commit id was given. */
  ref: string;
  /** The commit to deploy. */
  commit: string;
}

export interface GitFetchProgress {
  phase: string;
  loaded: number;
  total?: number;
}

/** Counts bytes of response bodies so a deploy can report what it downloaded. */
function makeHttp(opts: HttpOptions, counter: { bytes: number }): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const chunks: Buffer[] = [];
      if (req.body) for await (const c of req.body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
      const res = await httpRequest(req.url, { method: req.method, headers: req.headers, body: chunks.length ? Buffer.concat(chunks) : undefined }, opts);
      if (res.statusCode === 401 || res.statusCode === 403) {
        await res.body.dump();
        throw statusError(req.url, res.statusCode, 'the repository');
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      // Read the body as it arrives rather than on demand: undici 7 can crash the process
      // when a server closes a connection whose body is paused (nodejs/undici#5360), and
      // isomorphic-git holds the whole pack in memory anyway.
      const received: Uint8Array[] = [];
      try {
        for await (const chunk of res.body) {
          counter.bytes += chunk.length;
          received.push(chunk as Uint8Array);
        }
      } catch (err) {
        throw networkError(req.url, err);
      }
      async function* replay(): AsyncGenerator<Uint8Array> {
        yield* received;
      }
      return { url: req.url, method: req.method, statusCode: res.statusCode, statusMessage: String(res.statusCode), body: replay(), headers };
    },
  };
}

/** Store directory for a remote (credentials are never part of the key). */
export function gitStoreDir(storeRoot: string, owner: string, url: string): string {
  // One store per app and URL: the app's lock then serializes every write to it.
  const key = createHash('sha256').update(redactUrl(url)).digest('hex').slice(0, 16);
  return path.join(storeRoot, 'git', `${owner}-${key}`);
}

function translate(err: unknown, url: string): unknown {
  if (err instanceof RevError) return err;
  const e = err as { code?: string; data?: { statusCode?: number; filepath?: string } };
  if (e?.code === 'UnsafeFilepathError') {
    const p = e.data?.filepath ?? '?';
    return new RevError('UNSAFE_ENTRY', `Refused to deploy: the repository tree has an entry "${p}" that would escape the release; nothing was published. Fix the repository and deploy again.`, {
      data: { path: p },
      cause: err,
    });
  }
  if (e?.code === 'HttpError' && e.data?.statusCode) return statusError(url, e.data.statusCode, 'the repository');
  if (e?.code === 'SmartHttpError' || e?.code === 'ParseError' || e?.code === 'UnknownTransportError') {
    return new RevError('UNREACHABLE', `${redactUrl(url)} does not look like a git repository served over smart HTTP; check the source URL.`, { cause: err });
  }
  return err;
}

/** Asks the remote which commit `ref` (or its default branch) names, without fetching. */
export async function resolveGitRef(url: string, ref: string | undefined, opts: HttpOptions): Promise<GitTarget> {
  let refs: ServerRef[];
  try {
    // Protocol v1 discovery answers in one request (v2 needs a second one for ls-refs).
    refs = await git.listServerRefs({ http: makeHttp(opts, { bytes: 0 }), url, protocolVersion: 1, symrefs: true, peelTags: true });
  } catch (err) {
    throw translate(err, url);
  }
  const byName = new Map(refs.map((r) => [r.ref, r]));
  let candidates: string[];
  if (!ref) {
    const head = byName.get('HEAD');
    if (!head) throw new RevError('REF_NOT_FOUND', `${redactUrl(url)} has no default branch (is it empty?); push a commit or give --ref.`);
    candidates = head.target ? [head.target] : ['HEAD'];
  } else {
    candidates = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
  }
  for (const name of candidates) {
    const hit = byName.get(name);
    if (hit) return { ref: name, commit: hit.peeled ?? hit.oid };
  }
  throw new RevError('REF_NOT_FOUND', `The ref "${ref ?? 'HEAD'}" does not exist at ${redactUrl(url)}; check the branch or tag name (\`toes config set <app> branch NAME\`).`, {
    data: { ref: ref ?? 'HEAD' },
  });
}

function localRefFor(remoteRef: string): string {
  return remoteRef.startsWith('refs/heads/') ? `refs/remotes/origin/${remoteRef.slice('refs/heads/'.length)}` : remoteRef;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export interface GitFetchOptions extends HttpOptions {
  storeRoot: string;
  /** Who owns the store (the app): see gitStoreDir. */
  owner: string;
  blobs: BlobStore;
  onProgress?: (p: GitFetchProgress) => void;
}

/** Whether the store already holds `commit` (so no network is needed to build it). */
export async function hasCommit(gitdir: string, commit: string): Promise<boolean> {
  try {
    await git.readCommit({ fs: fsSync, gitdir, oid: commit });
    return true;
  } catch {
    return false;
  }
}

/**
 * isomorphic-git writes a fetched pack, then its index, neither atomically. A process killed
 * in between leaves a pack with no index (dead weight) or a short index (which would break
 * every later read). Both are removed; the next fetch simply asks for those objects again.
 */
export async function repairGitStore(gitdir: string): Promise<string[]> {
  const packDir = path.join(gitdir, 'objects', 'pack');
  const names = await fs.readdir(packDir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const base = name.replace(/\.(pack|idx)$/, '');
    if (name.endsWith('.pack') && !names.includes(`${base}.idx`)) removed.push(name);
    if (!name.endsWith('.idx')) continue;
    const fh = await fs.open(path.join(packDir, name), 'r');
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(8 + 256 * 4);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const count = bytesRead === head.length ? head.readUInt32BE(8 + 255 * 4) : -1;
      // v2 index: header, fanout, then 28 bytes per object, then two trailing hashes.
      if (count < 0 || size < head.length + count * 28 + 40 || !names.includes(`${base}.pack`)) removed.push(name, `${base}.pack`);
    } finally {
      await fh.close();
    }
  }
  for (const name of new Set(removed)) await fs.rm(path.join(packDir, name), { force: true });
  return [...new Set(removed)];
}

/** Fetches `target` into the store (if needed) and returns its snapshot. */
export async function fetchGit(url: string, target: GitTarget, opts: GitFetchOptions): Promise<Snapshot> {
  const gitdir = gitStoreDir(opts.storeRoot, opts.owner, url);
  const cache = {};
  const counter = { bytes: 0 };
  if (!(await exists(path.join(gitdir, 'HEAD')))) {
    await fs.mkdir(gitdir, { recursive: true });
    await git.init({ fs: fsSync, gitdir, bare: true });
  }
  // isomorphic-git maps fetched branches through the remote's refspec; the URL itself is
  // passed per call, so the store never records anything but the redacted form.
  await git.setConfig({ fs: fsSync, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
  await git.setConfig({ fs: fsSync, gitdir, path: 'remote.origin.url', value: redactUrl(url) });
  await repairGitStore(gitdir);
  if (!(await hasCommit(gitdir, target.commit))) {
    if (!target.ref) {
      throw new RevError('REF_NOT_FOUND', `The commit ${target.commit} is not in the store and servers do not hand out single commits; deploy a branch or tag instead.`);
    }
    const localRef = localRefFor(target.ref);
    let haveLocal = false;
    try {
      await git.resolveRef({ fs: fsSync, gitdir, ref: localRef });
      haveLocal = true;
    } catch {}
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packsBefore = new Set(await fs.readdir(packDir).catch(() => [] as string[]));
    try {
      await git.fetch({
        fs: fsSync,
        http: makeHttp(opts, counter),
        gitdir,
        url,
        ref: localRef,
        remoteRef: target.ref,
        singleBranch: true,
        tags: false,
        // A release needs its snapshot, not the history behind it. Once the store holds a
        // tip of this ref, a plain fetch with that tip as "have" asks only for the new objects.
        depth: haveLocal ? undefined : 1,
        cache,
        onProgress: opts.onProgress,
      });
    } catch (err) {
      // A pack cut short (full disk, dropped link) must not stay in the store taking space.
      for (const name of await fs.readdir(packDir).catch(() => [] as string[])) {
        if (!packsBefore.has(name)) await fs.rm(path.join(packDir, name), { force: true });
      }
      throw translate(translateSystemError(err, 'fetching the repository'), url);
    }
    if (target.ref.startsWith('refs/tags/')) {
      // fetch only writes branch refs under refs/remotes; keep tags resolvable as haves too.
      await git.writeRef({ fs: fsSync, gitdir, ref: localRef, value: target.commit, force: true }).catch(() => {});
    }
    if (!(await hasCommit(gitdir, target.commit))) {
      throw new RevError('REF_NOT_FOUND', `${redactUrl(url)} moved while fetching; deploy again to take its newest commit.`);
    }
  }
  return snapshotFromGitdir(gitdir, target, opts.blobs, cache, counter.bytes);
}

/** Reads the commit's tree out of `gitdir` (a store or a local repository) into the blob store. */
export async function snapshotFromGitdir(gitdir: string, target: GitTarget, blobs: BlobStore, cache: object = {}, bytesFetched = 0): Promise<Snapshot> {
  let entries: Entry[];
  try {
    entries = await listCommitTree(gitdir, target.commit, cache);
  } catch (err) {
    throw translate(err, gitdir);
  }
  checkEntries(entries);
  await storeGitBlobs(gitdir, entries, blobs, cache);
  return { version: target.commit, kind: 'git', commit: target.commit, ref: target.ref, entries, bytesFetched };
}

/** Resolves a ref in a repository on this machine (no network). */
export async function resolveLocalGitRef(gitdir: string, ref: string | undefined): Promise<GitTarget> {
  const candidates = !ref ? ['HEAD'] : ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`, ref];
  for (const name of candidates) {
    try {
      const oid = await git.resolveRef({ fs: fsSync, gitdir, ref: name });
      const { oid: commit } = await git.readCommit({ fs: fsSync, gitdir, oid }).catch(async () => {
        const t = await git.readTag({ fs: fsSync, gitdir, oid });
        return { oid: t.tag.object };
      });
      const branch = name === 'HEAD' ? await git.currentBranch({ fs: fsSync, gitdir, fullname: true }) : undefined;
      return { ref: branch ?? name, commit };
    } catch {}
  }
  throw new RevError('REF_NOT_FOUND', `The ref "${ref ?? 'HEAD'}" does not exist in ${gitdir}; check the branch or tag name.`, { data: { ref: ref ?? 'HEAD' } });
}

async function listCommitTree(gitdir: string, commit: string, cache: object): Promise<Entry[]> {
  const { commit: c } = await git.readCommit({ fs: fsSync, gitdir, oid: commit, cache });
  const out: Entry[] = [];
  const symlinks: Entry[] = [];
  async function walk(treeOid: string, prefix: string): Promise<void> {
    const { tree } = await git.readTree({ fs: fsSync, gitdir, oid: treeOid, cache });
    const subtrees: Promise<void>[] = [];
    for (const t of tree) {
      const p = prefix ? `${prefix}/${t.path}` : t.path;
      if (t.type === 'tree') subtrees.push(walk(t.oid, p));
      else if (t.type === 'commit') continue; // submodules are not part of the snapshot
      else if (t.mode === '120000') symlinks.push({ path: p, kind: 'symlink', oid: t.oid });
      else out.push({ path: p, kind: t.mode === '100755' ? 'exec' : 'file', oid: t.oid });
    }
    await Promise.all(subtrees);
  }
  await walk(c.tree, '');
  for (const s of symlinks) {
    const { blob } = await git.readBlob({ fs: fsSync, gitdir, oid: s.oid, cache });
    s.target = Buffer.from(blob).toString('utf8');
  }
  return out.concat(symlinks).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function storeGitBlobs(gitdir: string, entries: Entry[], blobs: BlobStore, cache: object): Promise<void> {
  const files = entries.filter((e) => e.kind !== 'symlink');
  const missing: Entry[] = [];
  await mapLimit(files, 32, async (e) => {
    if (!(await blobs.has(e.oid, e.kind === 'exec'))) missing.push(e);
  });
  // Reading from a pack is CPU-bound in this process; a small window keeps memory flat.
  await mapLimit(missing, 4, async (e) => {
    const { blob } = await git.readBlob({ fs: fsSync, gitdir, oid: e.oid, cache });
    await blobs.put(e.oid, e.kind === 'exec', Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength));
  });
}
