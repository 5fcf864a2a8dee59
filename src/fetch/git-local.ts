// A git repository on this machine (a path or file://): read in place with isomorphic-git,
// no network and no store of its own. isomorphic-git is imported when a function here
// runs: a static import would load it at the start of every deploy in a one-file bundle
// (scripts/bundle.mjs).
import fsSync from 'node:fs';
import { RevError } from '../errors.js';
import type { BlobStore } from './blobs.js';
import { Budget, DEFAULT_LIMITS, type SourceLimits } from './limits.js';
import { mapLimit } from './pool.js';
import { checkEntries, type Entry, type Snapshot } from './snapshot.js';
import { walkTree } from './tree.js';
import { exportEntries, refInfo } from './export-attrs.js';
import type { GitTarget } from './git-remote.js';
import { printable } from '../printable.js';

/** Resolves a ref in a repository on this machine. */
export async function resolveLocalGitRef(gitdir: string, ref: string | undefined): Promise<GitTarget> {
  const git = await import('isomorphic-git');
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
  throw new RevError('REF_NOT_FOUND', `The ref "${printable(ref ?? 'HEAD')}" does not exist in ${printable(gitdir)}; check the branch or tag name.`, { data: { ref: ref ?? 'HEAD' } });
}

export async function snapshotFromLocalRepo(gitdir: string, target: GitTarget, blobs: BlobStore, limits: SourceLimits = DEFAULT_LIMITS): Promise<Snapshot> {
  const git = await import('isomorphic-git');
  const cache = {};
  let entries: Entry[];
  try {
    const { commit } = await git.readCommit({ fs: fsSync, gitdir, oid: target.commit, cache });
    entries = await walkTree(commit.tree, {
      tree: async (oid) => (await git.readTree({ fs: fsSync, gitdir, oid, cache })).tree.map((t) => ({ mode: t.mode, name: t.path, oid: t.oid })),
      blobText: async (oid) => Buffer.from((await git.readBlob({ fs: fsSync, gitdir, oid, cache })).blob).toString('utf8'),
    }, new Budget(limits));
  } catch (err) {
    if ((err as { code?: string })?.code === 'UnsafeFilepathError') {
      const p = (err as { data?: { filepath?: string } }).data?.filepath ?? '?';
      throw new RevError('UNSAFE_ENTRY', `Refused to deploy: the repository tree has an entry "${p}" that would escape the release; nothing was published. Fix the repository and deploy again.`, {
        data: { path: p },
      });
    }
    throw err;
  }
  checkEntries(entries);
  await mapLimit(
    entries.filter((e) => e.kind !== 'symlink'),
    4,
    async (e) => {
      if (await blobs.has(e.oid, e.kind === 'exec')) return;
      const { blob } = await git.readBlob({ fs: fsSync, gitdir, oid: e.oid, cache });
      await blobs.put(e.oid, e.kind === 'exec', Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength));
    },
  );
  entries = await exportLocal(gitdir, target, entries, blobs, cache);
  return { version: target.commit, kind: 'git', commit: target.commit, ref: target.ref, entries, bytesFetched: 0 };
}

/** The snapshot as `git archive` would export it (export-attrs.ts); every content is stored by now. */
async function exportLocal(gitdir: string, target: GitTarget, entries: Entry[], blobs: BlobStore, cache: object): Promise<Entry[]> {
  const git = await import('isomorphic-git');
  const read = async (oid: string) => (await git.readObject({ fs: fsSync, gitdir, oid, format: 'content', cache })) as { type: string; object: Uint8Array };
  const commit = await read(target.commit);
  const refOid = target.ref ? await git.resolveRef({ fs: fsSync, gitdir, ref: target.ref }).catch(() => undefined) : undefined;
  const headCommit = await git.resolveRef({ fs: fsSync, gitdir, ref: 'HEAD' }).catch(() => undefined);
  const headRef = await git.currentBranch({ fs: fsSync, gitdir, fullname: true }).catch(() => undefined);
  const annotated = refOid !== undefined && (await read(refOid).catch(() => undefined))?.type === 'tag';
  const exported = await exportEntries(entries, {
    commit: { oid: target.commit, content: Buffer.from(commit.object) },
    refs: refInfo(target.commit, { ref: target.ref, headCommit, headRef: headRef ?? undefined, annotated }),
    file: (e) => blobs.pathOf(e.oid, e.kind === 'exec'),
    store: (oid, exec, content) => blobs.put(oid, exec, content),
  });
  return exported.entries;
}
