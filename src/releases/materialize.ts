// Builds a staging directory from a snapshot: directories are made, files are hard links
// to read-only blobs in the store (a copy when the store is on another filesystem), and
// symlinks are recreated. The entries were validated when the snapshot was made.
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import type { BlobStore, Entry } from '../fetch/index.js';
import { mapLimit } from '../fetch/pool.js';

export async function materialize(entries: Entry[], blobs: BlobStore, staging: string): Promise<void> {
  try {
    const dirs = new Set<string>();
    for (const e of entries) {
      for (let d = path.posix.dirname(e.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
    }
    await fs.mkdir(staging, { recursive: true });
    // Parents sort before children, so each mkdir finds its parent in place.
    for (const d of [...dirs].sort()) await fs.mkdir(path.join(staging, d));
    const half = Math.floor(entries.length / 2);
    await mapLimit(entries, 32, async (e, i) => {
      if (i === half) await failpoint('materialize');
      const dest = path.join(staging, e.path);
      if (e.kind === 'symlink') return fs.symlink(e.target!, dest);
      const src = blobs.pathOf(e.oid, e.kind === 'exec');
      try {
        await fs.link(src, dest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EPERM') throw err;
        await fs.copyFile(src, dest);
      }
    });
  } catch (err) {
    throw translateSystemError(err, 'writing the release files');
  }
}
