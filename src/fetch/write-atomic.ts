// A small file replaced whole but not synced: a reader sees the old text or the new, never
// half of one. For what a power cut may roll back harmlessly (a store's refs, which only
// cost a larger fetch; a note naming a process that a power cut ends anyway);
// releases/durable.ts syncs what must survive one.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomHex } from './hash.js';

export async function writeFileAtomic(file: string, text: string, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${randomHex(4)}`;
  try {
    await fs.writeFile(tmp, text, mode === undefined ? undefined : { mode });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
