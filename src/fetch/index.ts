// The fetch layer's one entry point: probe a source for the version it would deploy
// (cheaply, when the source can say), then fetch a snapshot of it into the blob store.
import fs from 'node:fs/promises';
import { RevError } from '../errors.js';
import { BlobStore } from './blobs.js';
import type { GitTarget } from './git-remote.js';
import { Budget, limitError, withDefaults, type SourceLimits } from './limits.js';
import type { Source } from './source.js';
import type { Snapshot } from './snapshot.js';

export { BlobStore, type BlobFile } from './blobs.js';
export { compactStore, storeNeeds, type Compaction } from './compact.js';
export { gitStoreFor, listGitStores, removeGitStore, removeLeftovers, type GitStoreDir } from './git-stores.js';
export { mapLimit } from './pool.js';
export { parseSource, formatSource, isTarballUrl, type Source } from './source.js';
export { contentFile, foldersOf, hasPackageJson, type Entry, type PreparedTree, type Snapshot } from './snapshot.js';
export { redactUrl } from './http.js';
export { DEFAULT_LIMITS, LIMIT_SETTINGS, type SourceLimits } from './limits.js';

export interface FetchContext {
  storeRoot: string;
  /** The app the fetch is for; its lock serializes writes to its git store. */
  owner: string;
  tmpRoot: string;
  blobs: BlobStore;
  token?: string;
  timeoutMs?: number;
  /** What the source may send; unset values take the defaults. */
  limits?: Partial<SourceLimits>;
  /**
   * When the deploy's downloads must be over (epoch ms), so a trickling server cannot hold
   * the app's lock: default `limits.downloadSeconds` from the call.
   */
  deadline?: number;
  onProgress?: (p: { phase: string; loaded: number; total?: number }) => void;
}

/** Runs `work` with a signal that ends its requests at the deadline, which becomes LIMIT_EXCEEDED. */
async function withDeadline<T>(ctx: FetchContext, work: (signal: AbortSignal, limits: SourceLimits) => Promise<T>): Promise<T> {
  const limits = withDefaults(ctx.limits);
  const deadline = ctx.deadline ?? Date.now() + limits.downloadSeconds * 1000;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), Math.max(0, deadline - Date.now()));
  try {
    if (ac.signal.aborted || Date.now() >= deadline) throw limitError('downloadSeconds', limits, 'The download took longer than');
    return await work(ac.signal, limits);
  } catch (err) {
    if (ac.signal.aborted) throw limitError('downloadSeconds', limits, 'The download took longer than');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export interface Probe {
  /** The version the source would give, when it can tell without downloading. */
  version?: string;
  target?: GitTarget;
}

export async function probeSource(src: Source, ref: string | undefined, ctx: FetchContext): Promise<Probe> {
  switch (src.kind) {
    case 'git-remote': {
      if (ref && /^[0-9a-f]{40}$/i.test(ref)) return { version: ref.toLowerCase(), target: { ref: '', commit: ref.toLowerCase() } };
      // The git client (and its zlib and pack parser) loads when a deploy needs it: a
      // rollback and `toes config` import this module too.
      const { resolveGitRef } = await import('./git-remote.js');
      const target = await withDeadline(ctx, (signal, limits) => resolveGitRef(src.url, ref, { token: ctx.token, timeoutMs: ctx.timeoutMs, signal, limits }));
      return { version: target.commit, target };
    }
    case 'git-local': {
      // isomorphic-git is loaded only for repositories on this machine.
      const { resolveLocalGitRef } = await import('./git-local.js');
      const target = await resolveLocalGitRef(src.gitdir, ref);
      return { version: target.commit, target };
    }
    case 'tarball': {
      if (ref) throw new RevError('USAGE', '--ref only applies to git sources; this source is a tarball.');
      // The version is the archive's hash: known here without unpacking (archive-id.ts).
      const { checkLocalArchive, knownRemoteArchive, localArchivePath, sha256File } = await import('./archive-id.js');
      const file = localArchivePath(src.url);
      if (file !== undefined) {
        await checkLocalArchive(file);
        return { version: await sha256File(file) };
      }
      const version = await withDeadline(ctx, (signal) => knownRemoteArchive(ctx.storeRoot, ctx.owner, src.url, { token: ctx.token, timeoutMs: ctx.timeoutMs, signal }));
      return version ? { version } : {};
    }
    default:
      if (ref) throw new RevError('USAGE', '--ref only applies to git sources; this source is a directory.');
      return {};
  }
}

export async function fetchSnapshot(src: Source, probe: Probe, ctx: FetchContext): Promise<Snapshot> {
  await fs.mkdir(ctx.tmpRoot, { recursive: true });
  switch (src.kind) {
    case 'git-remote': {
      const { fetchGit } = await import('./git-remote.js');
      return withDeadline(ctx, (signal, limits) =>
        fetchGit(src.url, probe.target!, { storeRoot: ctx.storeRoot, owner: ctx.owner, blobs: ctx.blobs, tmpRoot: ctx.tmpRoot, token: ctx.token, timeoutMs: ctx.timeoutMs, signal, limits, onProgress: ctx.onProgress }),
      );
    }
    case 'git-local':
      return (await import('./git-local.js')).snapshotFromLocalRepo(src.gitdir, probe.target!, ctx.blobs, withDefaults(ctx.limits));
    case 'tarball':
    {
      // Loaded on demand: a git deploy (the common case) never pays for tar.
      const { fetchTarball } = await import('./tarball.js');
      return withDeadline(ctx, (signal, limits) =>
        fetchTarball(src.url, {
          tmpRoot: ctx.tmpRoot,
          blobs: ctx.blobs,
          token: ctx.token,
          timeoutMs: ctx.timeoutMs,
          signal,
          limits,
          onProgress: ctx.onProgress,
          expect: probe.version,
          remember: { storeRoot: ctx.storeRoot, owner: ctx.owner },
        }),
      );
    }
    case 'dir': {
      const { ingestDir, treeVersion } = await import('./ingest.js');
      const entries = await ingestDir(src.path, ctx.blobs, { gitignore: true, move: false, budget: new Budget(withDefaults(ctx.limits)) });
      return { version: treeVersion(entries), kind: 'dir', entries, bytesFetched: 0 };
    }
  }
}
