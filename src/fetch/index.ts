// The fetch layer's one entry point: probe a source for the version it would deploy
// (cheaply, when the source can say), then fetch a snapshot of it into the blob store.
import fs from 'node:fs/promises';
import { RevError } from '../errors.js';
import { BlobStore } from './blobs.js';
import { fetchGit, resolveGitRef, type GitTarget } from './git-remote.js';
import type { Source } from './source.js';
import type { Snapshot } from './snapshot.js';

export { BlobStore } from './blobs.js';
export { mapLimit } from './pool.js';
export { parseSource, formatSource, type Source } from './source.js';
export { hasPackageJson, type Entry, type Snapshot } from './snapshot.js';
export { redactUrl } from './http.js';

export interface FetchContext {
  storeRoot: string;
  /** The app the fetch is for; its lock serializes writes to its git store. */
  owner: string;
  tmpRoot: string;
  blobs: BlobStore;
  token?: string;
  timeoutMs?: number;
  onProgress?: (p: { phase: string; loaded: number; total?: number }) => void;
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
      const target = await resolveGitRef(src.url, ref, { token: ctx.token, timeoutMs: ctx.timeoutMs });
      return { version: target.commit, target };
    }
    case 'git-local': {
      // isomorphic-git is loaded only for repositories on this machine.
      const { resolveLocalGitRef } = await import('./git-local.js');
      const target = await resolveLocalGitRef(src.gitdir, ref);
      return { version: target.commit, target };
    }
    default:
      if (ref) throw new RevError('USAGE', `--ref only applies to git sources; this source is a ${src.kind === 'dir' ? 'directory' : 'tarball'}.`);
      return {};
  }
}

export async function fetchSnapshot(src: Source, probe: Probe, ctx: FetchContext): Promise<Snapshot> {
  await fs.mkdir(ctx.tmpRoot, { recursive: true });
  switch (src.kind) {
    case 'git-remote':
      return fetchGit(src.url, probe.target!, { storeRoot: ctx.storeRoot, owner: ctx.owner, blobs: ctx.blobs, token: ctx.token, timeoutMs: ctx.timeoutMs, onProgress: ctx.onProgress });
    case 'git-local':
      return (await import('./git-local.js')).snapshotFromLocalRepo(src.gitdir, probe.target!, ctx.blobs);
    case 'tarball':
    {
      // Loaded on demand: a git deploy (the common case) never pays for tar.
      const { fetchTarball } = await import('./tarball.js');
      return fetchTarball(src.url, { tmpRoot: ctx.tmpRoot, blobs: ctx.blobs, token: ctx.token, timeoutMs: ctx.timeoutMs, onProgress: ctx.onProgress });
    }
    case 'dir': {
      const { ingestDir, treeVersion } = await import('./ingest.js');
      const entries = await ingestDir(src.path, ctx.blobs, { gitignore: true, move: false });
      return { version: treeVersion(entries), kind: 'dir', entries, bytesFetched: 0 };
    }
  }
}
