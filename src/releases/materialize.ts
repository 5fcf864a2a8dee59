// Builds a staging directory from a snapshot. Two modes:
// - `link`: every file is a hard link to its read-only blob. Used when no build step runs.
// - `copy`: every file is a private copy (a reflink where the filesystem can), so a build
//   that rewrites a tracked file in place cannot reach the store or another release. After
//   the build, `relink` swaps each copy the build left alone for a hard link to its blob,
//   so a sealed release still costs disk only for what the build wrote.
import fsc from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { mapLimit, type BlobStore, type Entry } from '../fetch/index.js';
import { randomHex } from '../fetch/hash.js';

export type MaterializeMode = 'link' | 'copy';

// Synchronous on purpose: thousands of link(2) calls run about half again as fast in a
// tight loop as through the thread pool, and nothing else waits on this process meanwhile.
function linkOrCopySync(src: string, dest: string): void {
  try {
    fsc.linkSync(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EPERM') throw err;
    fsc.copyFileSync(src, dest);
  }
}

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

export async function materialize(entries: Entry[], blobs: BlobStore, staging: string, mode: MaterializeMode): Promise<CopyMarks> {
  const marks: CopyMarks = new Map();
  try {
    const dirs = new Set<string>();
    for (const e of entries) {
      for (let d = path.posix.dirname(e.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
    }
    await fs.mkdir(staging, { recursive: true });
    // Parents sort before children, so each mkdir finds its parent in place.
    for (const d of [...dirs].sort()) await fs.mkdir(path.join(staging, d));
    const half = Math.floor(entries.length / 2);
    if (mode === 'link') {
      // Every content is in the store already (the fetch put it there): links only. A tight
      // synchronous loop measured faster here than the thread pool for small files.
      for (let i = 0; i < entries.length; i++) {
        if (i === half) await failpoint('materialize');
        const e = entries[i];
        const dest = path.join(staging, e.path);
        if (e.kind === 'symlink') fsc.symlinkSync(e.target!, dest);
        else linkOrCopySync(blobs.pathOf(e.oid, e.kind === 'exec'), dest);
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
