// Making a new release durable before `current` names it. Release files and new blobs are
// written without a sync each (thousands of fsyncs would cost seconds); one syncfs(2) of
// their filesystem before the swap means a power cut can never leave `current` pointing at
// empty files. syncfs is reached through `sync -f` (GNU coreutils); elsewhere `sync`.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(file, args, { timeout: 120_000 }, (err) => (err ? reject(err) : resolve())));
}

export async function syncFilesystems(paths: string[]): Promise<void> {
  // One path per filesystem is enough.
  const byDev = new Map<number, string>();
  for (const p of paths) {
    try {
      byDev.set(fs.statSync(p).dev, p);
    } catch {}
  }
  try {
    for (const p of byDev.values()) await run('sync', ['-f', p]);
  } catch {
    await run('sync', []).catch(() => {});
  }
}

/** Best effort: the rename is what matters, and it has happened by now. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}
