// What a git store must keep, and dropping the rest. A store exists so the next fetch can
// name its tip as a "have" and receive only what changed: for that it needs the tip's
// commit, every tree under it and every file content those trees name (the server assumes
// the client holds all of them). History behind the tip is never needed, because the tip
// is made a shallow boundary. Commits of releases still kept stay too, so rebuilding one
// (`--force`) finds its trees without asking the server for a single commit.
import { ObjectDb, commitTree, parseTree } from './objects.js';

export interface StoreClosure {
  /** Commits, trees and symlink texts of the kept commits: what the object log keeps. */
  objects: Set<string>;
  /** Blob store names (`<id>` or `<id>.x`) of the file contents those trees name. */
  blobs: Set<string>;
  /** Kept commits a parent of which is not kept: the new shallow boundary. */
  shallow: string[];
}

function parents(commit: Buffer): string[] {
  const head = commit.toString('latin1', 0, Math.max(0, commit.indexOf('\n\n')) || commit.length);
  return [...head.matchAll(/^parent ([0-9a-f]{40})$/gm)].map((m) => m[1]);
}

/**
 * Walks `commits` (those the log lacks are skipped: a tip the store does not hold is never
 * named as a "have", so nothing is owed to it) down to every tree and content they name.
 */
export async function closureOf(db: ObjectDb, commits: Iterable<string>): Promise<StoreClosure> {
  const objects = new Set<string>();
  const blobs = new Set<string>();
  const kept: { oid: string; content: Buffer }[] = [];
  const walk = async (treeOid: string): Promise<void> => {
    if (objects.has(treeOid)) return;
    const tree = await db.read(treeOid);
    if (!tree || tree.type !== 'tree') return;
    objects.add(treeOid);
    for (const e of parseTree(tree.content)) {
      if (e.mode === '40000' || e.mode === '040000') await walk(e.oid);
      else if (e.mode === '160000') continue;
      else if (e.mode === '120000') objects.add(e.oid);
      else blobs.add(e.mode === '100755' ? `${e.oid}.x` : e.oid);
    }
  };
  for (const oid of commits) {
    if (objects.has(oid)) continue;
    const commit = await db.read(oid);
    if (!commit || commit.type !== 'commit') continue;
    objects.add(oid);
    kept.push({ oid, content: commit.content });
    await walk(commitTree(commit.content));
  }
  const shallow = kept.filter((c) => parents(c.content).some((p) => !objects.has(p))).map((c) => c.oid);
  return { objects, blobs, shallow };
}

/** The settled tips of a store's refs, plus `kept` (commits of kept releases). */
async function keptCommits(db: ObjectDb, kept: Iterable<string>): Promise<string[]> {
  return [...new Set([...(await db.refs()).values(), ...kept])];
}

/** The file contents a store needs (its tips' and `kept` commits' trees), by blob store name. */
export async function storeNeeds(gitdir: string, kept: Iterable<string>): Promise<Set<string>> {
  const db = new ObjectDb(gitdir);
  return (await closureOf(db, await keptCommits(db, kept))).blobs;
}

export interface Compaction {
  /** Records dropped (or, in a dry run, that would be) and their bytes. */
  objects: number;
  bytes: number;
  /** The file contents the kept commits need: the blob sweep must keep them. */
  blobs: Set<string>;
}

/**
 * Drops from the object log every record that neither the store's tips nor `kept` reach, and makes each kept commit
 * whose parents went a shallow boundary. The caller holds the app's lock (the only writer).
 * Crash-safe in any order of events: the shallow list first grows to cover both logs (a
 * commit marked shallow while its parents are still present costs nothing), the log is
 * replaced by a rename, and only then does the list shrink to the new boundary.
 */
export async function compactStore(gitdir: string, kept: Iterable<string>, dryRun: boolean): Promise<Compaction> {
  const db = new ObjectDb(gitdir);
  const closure = await closureOf(db, await keptCommits(db, kept));
  const records = await db.records();
  const dropped = records.filter((r) => !closure.objects.has(r.oid));
  const torn = (await db.size()) - records.reduce((n, r) => n + 25 + r.content.length, 0);
  const result = { objects: dropped.length, bytes: dropped.reduce((n, r) => n + 25 + r.content.length, 0) + Math.max(0, torn), blobs: closure.blobs };
  if (dryRun || result.bytes === 0) return result;
  const before = await db.shallows();
  await db.setShallows([...before, ...closure.shallow]);
  await db.rewrite(closure.objects);
  await db.setShallows(closure.shallow);
  return result;
}
