// Durability: a new release before `current` names it, and small state files replaced whole.
// Release files and new blobs are
// written without a sync each (thousands of fsyncs would cost seconds); one syncfs(2) of
// their filesystem before the swap means a power cut can never leave `current` pointing at
// empty files. syncfs is reached through `sync -f` (GNU coreutils); elsewhere `sync`.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomHex } from '../fetch/hash.js';

async function run(file: string, args: string[]): Promise<void> {
  // Loaded here: a rollback never syncs, and child_process is a cost at start-up.
  const { execFile } = await import('node:child_process');
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

/**
 * The one way toes-rev replaces a small state file: a temp file beside it, written and
 * fsynced, renamed over the old one, then the directory fsynced. After a crash or a power
 * cut the file is the old one or the new one, never empty or half written.
 */
export async function writeFileDurable(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${randomHex(4)}`;
  const fh = await fsp.open(tmp, 'w', opts.mode ?? 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** `writeFileDurable` of a JSON value, pretty-printed unless `compact`. */
export async function writeJsonDurable(file: string, value: unknown, opts: { mode?: number; compact?: boolean } = {}): Promise<void> {
  const text = (opts.compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)) + '\n';
  await writeFileDurable(file, text, opts);
}
