// The git source over smart HTTP, into a store kept between deploys. A first fetch asks
// for the snapshot alone (depth 1); later ones also name the store's tip as a "have", so
// the server sends only objects the store lacks. Trees and commits stay in the store for
// the next fetch; file contents go straight from the pack to their paths in a scratch
// tree (placement.ts) that materialize links into the blob store, or else to the store by id.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError, translateSystemError } from '../errors.js';
import type { BlobStore } from './blobs.js';
import { redactUrl, type HttpOptions } from './http.js';
import { ObjectDb, commitTree, parseTree } from './objects.js';
import { Budget, limitError, withDefaults, type SourceLimits } from './limits.js';
import { indexPack } from './pack-file.js';
import { Placement } from './placement.js';
import { PackError, PackLimitError, type GitObject } from './pack.js';
import { mapLimit } from './pool.js';
import { BodyTooLarge, discover, uploadPack, type Advertisement } from './smart-http.js';
import { checkEntries, type Entry, type Snapshot } from './snapshot.js';
import { walkTree } from './tree.js';
import { exportEntries, refInfo } from './export-attrs.js';
import { createHash, randomHex } from './hash.js';
import { printable } from '../printable.js';

export interface GitTarget {
  /** Full remote ref name (refs/heads/main, refs/tags/v1), or '' when a commit id was given. */
  ref: string;
  /** The commit to deploy. */
  commit: string;
  /** The server's advertisement from resolving the ref, reused by the fetch. */
  ad?: Advertisement;
}

export interface GitFetchProgress {
  phase: string;
  loaded: number;
  total?: number;
}

/** Store directory for a remote (credentials are never part of the key). */
export function gitStoreDir(storeRoot: string, owner: string, url: string): string {
  // One store per app and URL: the app's lock then serializes every write to it.
  const key = createHash('sha256').update(redactUrl(url)).digest('hex').slice(0, 16);
  return path.join(storeRoot, 'git', `${owner}-${key}`);
}

export interface GitLimitOptions {
  limits?: SourceLimits;
}

/**
 * The ref list, refused past `limit.refs` (a server streaming refs for ever, say); only the
 * refs `wanted` names are kept, so a long list costs time, not memory.
 */
async function discoverBounded(url: string, opts: HttpOptions & GitLimitOptions, wanted?: (name: string, head?: string) => boolean): Promise<Advertisement> {
  const limits = withDefaults(opts.limits);
  try {
    return await discover(url, { ...opts, maxBytes: limits.refsBytes, wanted });
  } catch (err) {
    if (err instanceof BodyTooLarge) throw limitError('refsBytes', limits, `The list of refs from ${redactUrl(url)} is larger than`);
    throw err;
  }
}

/** Asks the remote which commit `ref` (or its default branch) names, without fetching. */
export async function resolveGitRef(url: string, ref: string | undefined, opts: HttpOptions & GitLimitOptions): Promise<GitTarget> {
  const named = !ref ? [] : ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
  const ad = await discoverBounded(url, opts, (name, head) => name === 'HEAD' || name === head || named.includes(name));
  let candidates = named;
  if (!ref) {
    if (!ad.head && !ad.refs.has('HEAD')) throw new RevError('REF_NOT_FOUND', `${redactUrl(url)} has no default branch (is it empty?); push a commit or give --ref.`);
    candidates = ad.head ? [ad.head] : ['HEAD'];
  }
  for (const name of candidates) {
    const oid = ad.refs.get(name);
    if (oid) return { ref: name, commit: ad.peeled.get(name) ?? oid, ad };
  }
  throw new RevError('REF_NOT_FOUND', `The ref "${printable(ref ?? 'HEAD')}" does not exist at ${redactUrl(url)}; check the branch or tag name (\`toes config set <app> branch NAME\`).`, {
    data: { ref: ref ?? 'HEAD' },
  });
}

function localRefFor(remoteRef: string): string {
  return remoteRef.startsWith('refs/heads/') ? `refs/remotes/origin/${remoteRef.slice('refs/heads/'.length)}` : remoteRef;
}

export interface GitFetchOptions extends HttpOptions, GitLimitOptions {
  storeRoot: string;
  /** Who owns the store (the app): see gitStoreDir. */
  owner: string;
  blobs: BlobStore;
  /** Scratch space for the pack and the blobs inflated from it; emptied after the fetch. */
  tmpRoot: string;
  onProgress?: (p: GitFetchProgress) => void;
}

/**
 * What this fetch brought, over the store: trees and commits in memory, blob contents in
 * files of `blobDir` (named by id) until the snapshot takes them into the blob store.
 */
class Objects {
  fresh = new Map<string, GitObject>();
  /** Content id -> the file it was inflated into. */
  freshBlobs = new Map<string, string>();
  constructor(
    readonly db: ObjectDb,
    readonly blobDir: string,
    private blobs: BlobStore,
    readonly placement?: Placement,
  ) {}

  blobFile(oid: string): string {
    return this.freshBlobs.get(oid) ?? path.join(this.blobDir, oid);
  }

  async get(oid: string): Promise<GitObject | undefined> {
    const mem = this.fresh.get(oid) ?? (await this.db.read(oid));
    if (mem) return mem;
    if (this.freshBlobs.has(oid)) return { type: 'blob', content: await fs.readFile(this.blobFile(oid)) };
    return undefined;
  }

  /** A REF_DELTA base: any object the store or this fetch holds, file contents included. */
  async base(oid: string): Promise<GitObject | undefined> {
    const obj = await this.get(oid);
    if (obj) return obj;
    const content = (await this.blobs.read(oid, false)) ?? (await this.blobs.read(oid, true));
    return content ? { type: 'blob', content } : undefined;
  }
}

async function download(url: string, target: GitTarget, objs: Objects, opts: GitFetchOptions, full: boolean): Promise<number> {
  const db = objs.db;
  const have = full ? undefined : await db.readRef(localRefFor(target.ref));
  // Only the capabilities are needed here: no ref is kept.
  const ad = target.ad ?? (await discoverBounded(url, opts, () => false));
  const limits = withDefaults(opts.limits);
  // Only a tip the log holds intact: a damaged one would tell the server we have what we lack.
  const haves = have && (await db.read(have)) ? [have] : [];
  const packFile = path.join(objs.blobDir, `.pack-${randomHex(4)}`);
  // A release needs its snapshot, not the history behind it: with nothing to build on, ask
  // for depth 1. With a tip in the store, ask without a depth: git's upload-pack ignores
  // "have"s for a deepening request and would send the whole snapshot again, while a plain
  // request sends only the objects the store lacks (the store's shallow list bounds it).
  let res;
  try {
    res = await uploadPack(
      url,
      { want: target.commit, haves, shallows: full ? [] : await db.shallows(), depth: haves.length ? undefined : 1 },
      ad,
      // A pack is compressed: past the snapshot's own limit (and some framing) it is not one snapshot.
      { ...opts, packFile, maxBytes: limits.snapshotBytes + (limits.snapshotBytes >> 4) + 1024 * 1024, onBytes: (n) => opts.onProgress?.({ phase: 'receiving', loaded: n }) },
    );
  } catch (err) {
    if (err instanceof BodyTooLarge) throw limitError('snapshotBytes', limits, `The pack from ${redactUrl(url)} is larger than`);
    throw err;
  }
  try {
    if (res.packBytes > 0) {
      const got = await indexPack(packFile, {
        blobDir: objs.blobDir,
        external: (oid) => objs.base(oid),
        limits: { objectBytes: limits.fileBytes, blobBytes: limits.snapshotBytes },
        seen: objs.placement && ((oid, obj) => objs.placement!.seen(oid, obj)),
        place: objs.placement && ((oid) => objs.placement!.place(oid)),
      });
      for (const [oid, obj] of got.small) objs.fresh.set(oid, obj);
      // A content an earlier pack of this fetch brought keeps its first file (placed, maybe).
      for (const [oid, file] of got.blobs) if (!objs.freshBlobs.has(oid)) objs.freshBlobs.set(oid, file);
      // Trees and commits persist for the next fetch; blobs are taken by the snapshot.
      await db.append([...got.small]);
    }
  } catch (err) {
    if (err instanceof PackLimitError) {
      throw err.limit === 'object' ? limitError('fileBytes', limits, 'A file in the pack is larger than') : limitError('snapshotBytes', limits, 'The files in the pack add up to more than');
    }
    if (!(err instanceof PackError)) throw err;
    throw new RevError('UNREACHABLE', `The pack from ${redactUrl(url)} was damaged or cut short (${err.message}); deploy again.`, { cause: err });
  } finally {
    await fs.rm(packFile, { force: true });
  }
  await db.updateShallows(res.shallow, res.unshallow);
  return res.bytes;
}

/** Fetches `target` into the store (if needed) and returns its snapshot. */
export async function fetchGit(url: string, target: GitTarget, opts: GitFetchOptions): Promise<Snapshot> {
  const blobDir = path.join(opts.tmpRoot, `git-${randomHex(6)}`);
  await fs.mkdir(blobDir, { recursive: true });
  const db = new ObjectDb(gitStoreDir(opts.storeRoot, opts.owner, url));
  const limits = withDefaults(opts.limits);
  // Outside blobDir: a prepared tree outlives the fetch, until materialize takes it.
  const placement = new Placement(path.join(opts.tmpRoot, `tree-${randomHex(6)}`), target.commit, opts.blobs);
  const objs = new Objects(db, blobDir, opts.blobs, placement);
  let bytes = 0;
  let done = false;
  let asked = false;
  try {
    // read, not has: a record the log holds but a power cut damaged is fetched again.
    if (!(await objs.db.read(target.commit))) {
      if (!target.ref) {
        throw new RevError('REF_NOT_FOUND', `The commit ${target.commit} is not in the store and servers do not hand out single commits; deploy a branch or tag instead.`);
      }
      bytes += await download(url, target, objs, opts, false);
      asked = true;
    }
    let snap = await snapshot(target, objs, opts.blobs, limits);
    if (snap.missing.length && !asked && target.ref) {
      // The commit arrived before but its contents were never stored (the deploy that
      // fetched it was killed): the store's settled tip still says what it does hold.
      bytes += await download(url, target, objs, opts, false);
      snap = await snapshot(target, objs, opts.blobs, limits);
    }
    if (snap.lostTree && !target.ref) {
      // Servers commonly refuse a commit they did not advertise: no whole fetch to fall back on.
      throw new RevError('INTERNAL', `The store is missing tree ${snap.lostTree}; remove it (${objs.db.gitdir}) and deploy again.`);
    }
    if (snap.missing.length) {
      // The store lacks some contents the server assumed we had (a blob store cleaned by
      // hand, say): ask for the whole snapshot once.
      bytes += await download(url, target, objs, opts, true);
      snap = await snapshot(target, objs, opts.blobs, limits);
      if (snap.missing.length) throw new RevError('INTERNAL', `The server did not send ${snap.missing.length} files of ${target.commit}; deploy again.`);
    }
    snap.entries = await exportSnapshot(target, snap.entries, objs, opts.blobs);
    const prepared = placement.prepared();
    const settle = async () => {
      // The tip may claim only stored contents. Materialize stores the prepared ones; a
      // caller that never materialized has them stored here.
      if (prepared && fsSync.existsSync(prepared.dir)) {
        for (const e of placement.placed.values()) await opts.blobs.linkIn(e.oid, e.kind === 'exec', `${prepared.dir}/${e.path}`);
      }
      if (target.ref) await objs.db.writeRef(localRefFor(target.ref), target.commit);
    };
    done = true;
    return { version: target.commit, kind: 'git', commit: target.commit, ref: target.ref, entries: snap.entries, bytesFetched: bytes, settle, prepared };
  } catch (err) {
    throw translateSystemError(err, 'fetching the repository');
  } finally {
    await fs.rm(blobDir, { recursive: true, force: true });
    if (!done) await fs.rm(placement.dir, { recursive: true, force: true });
  }
}

/**
 * The snapshot as `git archive` exports it (export-attrs.ts). A file the fetch placed at a
 * path the export leaves out or rewrites is moved into the store: the release links the
 * exported content instead.
 */
async function exportSnapshot(target: GitTarget, snapEntries: Entry[], objs: Objects, blobs: BlobStore): Promise<Entry[]> {
  const placement = objs.placement!;
  const commit = (await objs.get(target.commit))!;
  const fileOf = (e: Entry) => {
    const at = placement.placed.get(e.oid);
    return at ? `${placement.dir}/${at.path}` : blobs.pathOf(e.oid, e.kind === 'exec');
  };
  const { entries, changed } = await exportEntries(snapEntries, {
    commit: { oid: target.commit, content: commit.content },
    refs: refInfo(target.commit, { ref: target.ref, headCommit: target.ad?.refs.get('HEAD'), headRef: target.ad?.head, annotated: target.ad?.peeled.has(target.ref) }),
    file: fileOf,
    store: (oid, exec, content) => blobs.put(oid, exec, content),
  });
  for (const e of changed) {
    const at = placement.placed.get(e.oid);
    if (at?.path !== e.path) continue;
    await blobs.adopt(at.oid, at.kind === 'exec', `${placement.dir}/${at.path}`, true);
    placement.placed.delete(at.oid);
    // Materialize makes the folders the prepared files do not: none may be left empty.
    for (let d = path.posix.dirname(at.path); d !== '.'; d = path.posix.dirname(d)) {
      if (!(await fs.rmdir(`${placement.dir}/${d}`).then(() => true, () => false))) break;
    }
  }
  return entries;
}

class LostTree extends Error {
  constructor(readonly oid: string) {
    super(`tree ${oid} is not in the store`);
  }
}

/**
 * Walks the commit's tree and takes every file content the store lacks into the blob store
 * (moved from the fetch's scratch files, never read into memory). `missing` lists entries
 * whose content neither the store nor this fetch has.
 */
async function snapshot(target: GitTarget, objs: Objects, blobs: BlobStore, limits: SourceLimits): Promise<{ entries: Entry[]; missing: Entry[]; lostTree?: string }> {
  const commit = await objs.get(target.commit);
  if (!commit) throw new RevError('REF_NOT_FOUND', `The commit ${target.commit} did not arrive; deploy again.`);
  const tree = async (oid: string) => {
    const t = await objs.get(oid);
    if (!t || t.type !== 'tree') throw new LostTree(oid);
    return parseTree(t.content);
  };
  // Symlink targets are tiny blobs kept in the object log with the trees, since a link's
  // text is needed to build every release and the blob store keeps only file contents.
  const lostLinks = new Set<string>();
  const linkObjects: [string, GitObject][] = [];
  let entries: Entry[];
  try {
    entries = await walkTree(commitTree(commit.content), {
      tree,
      blobText: async (oid) => {
        const b = await objs.get(oid);
        if (!b) {
          lostLinks.add(oid);
          return '.';
        }
        if (objs.freshBlobs.has(oid)) linkObjects.push([oid, b]);
        return b.content.toString('utf8');
      },
    }, new Budget(limits));
  } catch (err) {
    // The object log is not synced at each append: after a power cut the tip's commit may
    // be there without all its trees. Such a tree is asked for again like a lost content.
    if (err instanceof LostTree) return { entries: [], missing: [{ path: '', oid: err.oid, kind: 'file' }], lostTree: err.oid };
    throw err;
  }
  if (lostLinks.size) return { entries, missing: entries.filter((e) => lostLinks.has(e.oid)) };
  await objs.db.append(linkObjects);
  checkEntries(entries);
  const missing: Entry[] = [];
  // One store name once, even when many paths share the content.
  const wanted = new Map<string, Entry>();
  for (const e of entries) if (e.kind !== 'symlink') wanted.set(blobs.nameOf(e.oid, e.kind === 'exec'), e);
  // Most are stored already (all but a few, after the first deploy): one pass, no await each.
  const needed = await blobs.lacking([...wanted.values()]);
  // Placed contents enter the store when materialize links them from the release, so a
  // deploy killed before that leaves nothing in the store for them.
  const placed = objs.placement?.placed ?? new Map<string, Entry>();
  // A content fetched now (not placed) and wanted with both modes is moved once and copied once.
  const both = new Set(needed.filter((e) => e.kind === 'exec' && !placed.has(e.oid)).map((e) => e.oid).filter((oid) => wanted.has(blobs.nameOf(oid, false))));
  await mapLimit(needed, 16, async (e) => {
    const exec = e.kind === 'exec';
    const at = placed.get(e.oid);
    if (at) {
      // Wanted with the other mode too: a copy of the placed file.
      if (at.kind !== e.kind) await blobs.copyIn(e.oid, exec, objs.blobFile(e.oid));
      return;
    }
    if (objs.freshBlobs.has(e.oid)) {
      if (both.has(e.oid) && exec) await blobs.copyIn(e.oid, exec, objs.blobFile(e.oid));
      else if (!both.has(e.oid)) await blobs.adopt(e.oid, exec, objs.blobFile(e.oid), true);
      return;
    }
    // Same content with the other mode (a chmod upstream) is not sent again.
    if (await blobs.has(e.oid, !exec)) await blobs.copyIn(e.oid, exec, blobs.pathOf(e.oid, !exec));
    else missing.push(e);
  });
  // The non-exec copy of a content wanted both ways moves in last, after its exec copy was made.
  for (const oid of both) if (objs.freshBlobs.has(oid) && !(await blobs.has(oid, false))) await blobs.adopt(oid, false, objs.blobFile(oid), true);
  return { entries, missing };
}
