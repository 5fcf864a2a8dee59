// The git source over smart HTTP, into a store kept between deploys. A first fetch asks
// for the snapshot alone (depth 1); later ones also name the store's tip as a "have", so
// the server sends only objects the store lacks. Trees and commits stay in the store for
// the next fetch; file contents go straight from the pack to the blob store.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { RevError, translateSystemError } from '../errors.js';
import type { BlobStore } from './blobs.js';
import { redactUrl, type HttpOptions } from './http.js';
import { ObjectDb, commitTree, parseTree } from './objects.js';
import { Budget, limitError, withDefaults, type SourceLimits } from './limits.js';
import { PackError, PackLimitError, parsePack, type GitObject } from './pack.js';
import { mapLimit } from './pool.js';
import { BodyTooLarge, discover, uploadPack, type Advertisement } from './smart-http.js';
import { checkEntries, type Entry, type Snapshot } from './snapshot.js';
import { walkTree } from './tree.js';

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

/** The ref list, refused past `limit.refs` (a server streaming refs for ever, say). */
async function discoverBounded(url: string, opts: HttpOptions & GitLimitOptions): Promise<Advertisement> {
  const limits = withDefaults(opts.limits);
  try {
    return await discover(url, { ...opts, maxBytes: limits.refsBytes });
  } catch (err) {
    if (err instanceof BodyTooLarge) throw limitError('refsBytes', limits, `The list of refs from ${redactUrl(url)} is larger than`);
    throw err;
  }
}

/** Asks the remote which commit `ref` (or its default branch) names, without fetching. */
export async function resolveGitRef(url: string, ref: string | undefined, opts: HttpOptions & GitLimitOptions): Promise<GitTarget> {
  const ad = await discoverBounded(url, opts);
  let candidates: string[];
  if (!ref) {
    if (!ad.head && !ad.refs.has('HEAD')) throw new RevError('REF_NOT_FOUND', `${redactUrl(url)} has no default branch (is it empty?); push a commit or give --ref.`);
    candidates = ad.head ? [ad.head] : ['HEAD'];
  } else {
    candidates = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
  }
  for (const name of candidates) {
    const oid = ad.refs.get(name);
    if (oid) return { ref: name, commit: ad.peeled.get(name) ?? oid, ad };
  }
  throw new RevError('REF_NOT_FOUND', `The ref "${ref ?? 'HEAD'}" does not exist at ${redactUrl(url)}; check the branch or tag name (\`toes config set <app> branch NAME\`).`, {
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
  onProgress?: (p: GitFetchProgress) => void;
}

/** Objects of this fetch in memory, over the store's loose objects. */
class Objects {
  fresh = new Map<string, GitObject>();
  constructor(readonly db: ObjectDb) {}
  async get(oid: string): Promise<GitObject | undefined> {
    return this.fresh.get(oid) ?? (await this.db.read(oid));
  }
}

async function download(url: string, target: GitTarget, objs: Objects, opts: GitFetchOptions, full: boolean): Promise<number> {
  const db = objs.db;
  const have = full ? undefined : await db.readRef(localRefFor(target.ref));
  const ad = target.ad ?? (await discoverBounded(url, opts));
  const limits = withDefaults(opts.limits);
  const haves = have && (await db.has(have)) ? [have] : [];
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
      { ...opts, maxBytes: limits.snapshotBytes + (limits.snapshotBytes >> 4) + 1024 * 1024, onBytes: (n) => opts.onProgress?.({ phase: 'receiving', loaded: n }) },
    );
  } catch (err) {
    if (err instanceof BodyTooLarge) throw limitError('snapshotBytes', limits, `The pack from ${redactUrl(url)} is larger than`);
    throw err;
  }
  let objects: Map<string, GitObject>;
  try {
    objects = res.pack.length === 0 ? new Map() : parsePack(res.pack, (oid) => objs.fresh.get(oid), { objectBytes: limits.fileBytes, blobBytes: limits.snapshotBytes });
  } catch (err) {
    if (err instanceof PackLimitError) {
      throw err.limit === 'object' ? limitError('fileBytes', limits, 'A file in the pack is larger than') : limitError('snapshotBytes', limits, 'The files in the pack add up to more than');
    }
    if (!(err instanceof PackError)) throw err;
    throw new RevError('UNREACHABLE', `The pack from ${redactUrl(url)} was damaged or cut short (${err.message}); deploy again.`, { cause: err });
  }
  for (const [oid, obj] of objects) objs.fresh.set(oid, obj);
  // Trees and commits persist for the next fetch; blobs are taken by the caller.
  await db.append([...objects].filter(([, o]) => o.type !== 'blob'));
  await db.updateShallows(res.shallow, res.unshallow);
  return res.bytes;
}

/** Fetches `target` into the store (if needed) and returns its snapshot. */
export async function fetchGit(url: string, target: GitTarget, opts: GitFetchOptions): Promise<Snapshot> {
  const objs = new Objects(new ObjectDb(gitStoreDir(opts.storeRoot, opts.owner, url)));
  let bytes = 0;
  let asked = false;
  try {
    if (!(await objs.db.has(target.commit))) {
      if (!target.ref) {
        throw new RevError('REF_NOT_FOUND', `The commit ${target.commit} is not in the store and servers do not hand out single commits; deploy a branch or tag instead.`);
      }
      bytes += await download(url, target, objs, opts, false);
      asked = true;
    }
    const limits = withDefaults(opts.limits);
    let snap = await snapshot(target, objs, opts.blobs, limits);
    if (snap.missing.length && !asked && target.ref) {
      // The commit arrived before but its contents were never stored (the deploy that
      // fetched it was killed): the store's settled tip still says what it does hold.
      bytes += await download(url, target, objs, opts, false);
      snap = await snapshot(target, objs, opts.blobs, limits);
    }
    if (snap.missing.length) {
      // The store lacks some contents the server assumed we had (a blob store cleaned by
      // hand, say): ask for the whole snapshot once.
      bytes += await download(url, target, objs, opts, true);
      snap = await snapshot(target, objs, opts.blobs, limits);
      if (snap.missing.length) throw new RevError('INTERNAL', `The server did not send ${snap.missing.length} files of ${target.commit}; deploy again.`);
    }
    const settle = async () => {
      if (target.ref) await objs.db.writeRef(localRefFor(target.ref), target.commit);
    };
    return { version: target.commit, kind: 'git', commit: target.commit, ref: target.ref, entries: snap.entries, bytesFetched: bytes, pending: snap.pending, settle };
  } catch (err) {
    throw translateSystemError(err, 'fetching the repository');
  }
}

async function snapshot(target: GitTarget, objs: Objects, blobs: BlobStore, limits: SourceLimits): Promise<{ entries: Entry[]; missing: Entry[]; pending: Map<string, Buffer> }> {
  const commit = await objs.get(target.commit);
  if (!commit) throw new RevError('REF_NOT_FOUND', `The commit ${target.commit} did not arrive; deploy again.`);
  const tree = async (oid: string) => {
    const t = await objs.get(oid);
    if (!t || t.type !== 'tree') throw new RevError('INTERNAL', `The store is missing tree ${oid}; remove it (${objs.db.gitdir}) and deploy again.`);
    return parseTree(t.content);
  };
  // Symlink targets are tiny blobs kept in the object log with the trees, since a link's
  // text is needed to build every release and the blob store keeps only file contents.
  const lostLinks = new Set<string>();
  const linkObjects: [string, GitObject][] = [];
  const entries = await walkTree(commitTree(commit.content), {
    tree,
    blobText: async (oid) => {
      const b = await objs.get(oid);
      if (!b) {
        lostLinks.add(oid);
        return '.';
      }
      if (objs.fresh.has(oid)) linkObjects.push([oid, b]);
      return b.content.toString('utf8');
    },
  }, new Budget(limits));
  if (lostLinks.size) return { entries, missing: entries.filter((e) => lostLinks.has(e.oid)), pending: new Map() };
  await objs.db.append(linkObjects);
  checkEntries(entries);
  const missing: Entry[] = [];
  const pending = new Map<string, Buffer>();
  await mapLimit(
    entries.filter((e) => e.kind !== 'symlink'),
    32,
    async (e) => {
      const exec = e.kind === 'exec';
      if (await blobs.has(e.oid, exec)) return;
      // Same content with the other mode (a chmod upstream) is not sent again.
      const content = objs.fresh.get(e.oid)?.content ?? (await blobs.read(e.oid, !exec));
      if (content) pending.set(blobs.nameOf(e.oid, exec), content);
      else missing.push(e);
    },
  );
  return { entries, missing, pending };
}
