// Builds a staging directory from a snapshot. Two modes:
// - `link`: every file is a hard link to its read-only blob. Used when no build step runs.
//   Files the fetch already wrote at their paths (a prepared tree, each file a link of its
//   blob) are taken whole by renaming their folder, and only the rest is linked.
// - `copy`: every file is a private copy (a reflink where the filesystem can), so a build
//   that rewrites a tracked file in place cannot reach the store or another release. After
//   the build, `relink` swaps each copy the build left alone for a hard link to its blob,
//   so a sealed release still costs disk only for what the build wrote.
import fsc from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { foldersOf, mapLimit, type BlobStore, type Entry, type PreparedTree } from '../fetch/index.js';
import { randomHex } from '../fetch/hash.js';

export type MaterializeMode = 'link' | 'copy';

/** A link that cannot be made here (another disk, too many links, no links at all) is a copy. */
function copyInstead(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM';
}

function linkOrCopySync(src: string, dest: string): void {
  try {
    fsc.linkSync(src, dest);
  } catch (err) {
    if (!copyInstead(err)) throw err;
    fsc.copyFileSync(src, dest);
  }
}

async function linkOrCopy(src: string, dest: string): Promise<void> {
  try {
    await fs.link(src, dest);
  } catch (err) {
    if (!copyInstead(err)) throw err;
    await fs.copyFile(src, dest);
  }
}

// Below this many files the thread pool is not worth waking.
const POOL_MIN = 64;
const POOLED_LINKS = !!process.versions.bun;

/**
 * What a private copy looked like when made: its inode and change time. A process can set
 * a file's mtime back (`cp -p`, `touch -r`) but not its ctime, so a copy with both intact
 * was not written by the build.
 */
export type CopyMarks = Map<string, { ino: bigint; ctimeNs: bigint }>;

async function privateCopy(src: string, dest: string, exec: boolean, marks: CopyMarks, rel: string): Promise<void> {
  await fs.copyFile(src, dest, fsc.constants.COPYFILE_FICLONE);
  await fs.chmod(dest, exec ? 0o755 : 0o644);
  const st = await fs.lstat(dest, { bigint: true });
  marks.set(rel, { ino: st.ino, ctimeNs: st.ctimeNs });
}

/**
 * Puts a prepared tree's contents into the store, each as a link of its file, and in link
 * mode moves the tree to `staging`: the paths it brought there, or undefined when the
 * tree was not moved (copy mode, another disk) and is gone.
 */
async function takePrepared(entries: Entry[], prepared: PreparedTree, blobs: BlobStore, staging: string, mode: MaterializeMode): Promise<Set<string> | undefined> {
  let moved = false;
  if (mode === 'link') {
    try {
      fsc.mkdirSync(path.dirname(staging), { recursive: true });
      fsc.renameSync(prepared.dir, staging);
      moved = true;
    } catch {
      // another disk, say: the files go into the store, and the release links them from there
    }
  }
  const dir = moved ? staging : prepared.dir;
  const kept = new Set<string>();
  for (const e of entries) {
    if (!prepared.paths.has(e.path)) continue;
    const file = `${dir}/${e.path}`;
    if (await blobs.linkIn(e.oid, e.kind === 'exec', file)) kept.add(e.path);
    // The store had it already (or took a copy): the release links the stored one.
    else if (moved) fsc.rmSync(file);
  }
  if (moved) return kept;
  fsc.rmSync(prepared.dir, { recursive: true, force: true });
  return undefined;
}

// Per file, the work is one link(2) and one mkdir(2) per folder, measured beside the
// alternatives on both runtimes (3,000 files in 450 folders): for folders, and for links on
// Node, synchronous calls beat the thread pool (mkdir 79 vs 115 ms on Node; Bun 119 vs
// 134), folders in parallel gained nothing on two cores, and building paths by
// concatenation instead of path.join took links from 35 to 25 ms. Entry paths are checked relative POSIX paths (snapshot.ts), so
// concatenation names the same file. What remains is the filesystem's own cost.
export async function materialize(entries: Entry[], blobs: BlobStore, staging: string, mode: MaterializeMode, prepared?: PreparedTree): Promise<CopyMarks> {
  const marks: CopyMarks = new Map();
  try {
    // A build may rewrite files in place: a copy-mode tree must not hold links of the store.
    const placed = prepared && (await takePrepared(entries, prepared, blobs, staging, mode));
    const present = new Set(placed ? foldersOf(placed) : []);
    fsc.mkdirSync(staging, { recursive: true });
    const root = `${staging}/`;
    for (const d of foldersOf(entries.map((e) => e.path))) if (!present.has(d)) fsc.mkdirSync(root + d);
    const half = Math.floor(entries.length / 2);
    if (mode === 'link') {
      // Every content is in the store already (the fetch put it there): links only. On Bun
      // this thread links the first half in a tight loop (a synchronous call costs about
      // half of one through the thread pool) while the pool links the second half, all
      // asked for at once: 3,000 links took 25 ms in one loop, 14-16 ms so; a one-commit
      // deploy's materialize 36 -> 26 ms. Node's pool made it slower (38 -> 48 ms).
      const store = `${blobs.root}/`;
      const todo = entries.filter((e) => !placed?.has(e.path));
      const cut = POOLED_LINKS && todo.length >= POOL_MIN ? Math.ceil(todo.length / 2) : todo.length;
      const files = todo.slice(cut).filter((e) => e.kind !== 'symlink');
      const inPool = new Set(files.map((e) => e.path));
      // Every link settled before materialize returns or throws (a failed deploy removes the
      // staging tree, which a link still landing would refill): the first failure is kept.
      const pooled = Promise.allSettled(files.map((e) => linkOrCopy(store + blobs.nameOf(e.oid, e.kind === 'exec'), root + e.path))).then((all) => {
        const failed = all.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        return failed && { err: failed.reason as unknown };
      });
      try {
        for (let i = 0; i < entries.length; i++) {
          if (i === half) await failpoint('materialize');
          const e = entries[i];
          if (placed?.has(e.path) || inPool.has(e.path)) continue;
          const dest = root + e.path;
          if (e.kind === 'symlink') fsc.symlinkSync(e.target!, dest);
          else linkOrCopySync(store + blobs.nameOf(e.oid, e.kind === 'exec'), dest);
        }
      } finally {
        const failed = await pooled;
        if (failed) throw failed.err;
      }
      return marks;
    }
    await mapLimit(entries, 32, async (e, i) => {
      if (i === half) await failpoint('materialize');
      const dest = path.join(staging, e.path);
      if (e.kind === 'symlink') return fs.symlink(e.target!, dest);
      await privateCopy(blobs.pathOf(e.oid, e.kind === 'exec'), dest, e.kind === 'exec', marks, e.path);
    });
    return marks;
  } catch (err) {
    throw translateSystemError(err, 'writing the release files');
  }
}

/** After the build: replace every copy the build did not touch by a link to its blob. */
export async function relink(entries: Entry[], blobs: BlobStore, staging: string, marks: CopyMarks): Promise<number> {
  let linked = 0;
  await mapLimit(entries, 32, async (e) => {
    const mark = marks.get(e.path);
    if (e.kind === 'symlink' || !mark) return;
    const dest = path.join(staging, e.path);
    const st = await fs.lstat(dest, { bigint: true }).catch(() => null);
    if (!st?.isFile() || st.ino !== mark.ino || st.ctimeNs !== mark.ctimeNs || st.nlink !== 1n) return;
    const tmp = `${dest}.relink-${randomHex(4)}`;
    try {
      await fs.link(blobs.pathOf(e.oid, e.kind === 'exec'), tmp);
      await fs.rename(tmp, dest);
      linked++;
    } catch {
      await fs.rm(tmp, { force: true }); // keeping the private copy is always correct
    }
  });
  return linked;
}
