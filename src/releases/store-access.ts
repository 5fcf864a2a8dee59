// Who may use the shared blob store when. A deploy decides from one directory listing
// which contents are present and links them later, so the collector must never delete a
// blob between those two moments, for any app. The protocol, on the filesystem:
//
// - A deploy enters the store (a note in store/users/, with its pid, process start time and
//   boot) before its fetch lists the store, then waits while the collector's lock
//   (store/gc.lock) is held, and leaves once its last link to a blob is made.
// - The collector takes its lock, then reads store/users/: with any live user it lets go
//   and deletes nothing. While it deletes it looks at store/users/ again every few files
//   and lets go as soon as a note appears, so an arriving deploy waits for a few unlink
//   calls at most, never for a whole collection.
//
// Each side writes its own mark before it looks for the other's, so at least one of them
// sees the other: a deploy never lists the store while the collector deletes. Notes and
// locks of killed processes are recognised as lock.ts does (pid, start time, boot id).
import fs from 'node:fs/promises';
import path from 'node:path';
import { isRevError } from '../errors.js';
import { acquireLock, describeOwner, lockHolder, ownerGone, ownerNote, type LockOwner } from './lock.js';
import type { Layout } from './paths.js';

export interface StoreUse {
  leave(): Promise<void>;
}

const NOTE = /^[0-9a-f]+\.json$/;

export async function enterStore(layout: Layout, command: string, onWait?: (holder: string) => void): Promise<StoreUse> {
  const dir = layout.storeUsersDir;
  await fs.mkdir(dir, { recursive: true });
  const note = ownerNote(command);
  const file = path.join(dir, `${note.token}.json`);
  // Complete before it is named: a collector never reads half a note.
  const tmp = path.join(dir, `.${note.token}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(note));
  await fs.rename(tmp, file);
  let told = false;
  for (;;) {
    const holder = await lockHolder(layout.storeGcLock);
    if (!holder) break;
    if (!told) onWait?.(describeOwner(holder));
    told = true;
    await new Promise((r) => setTimeout(r, 10));
  }
  let left: Promise<void> | undefined;
  return { leave: () => (left ??= fs.rm(file, { force: true })) };
}

/** The live users of the store, in words; notes of processes that are gone are removed. */
export async function storeUsers(layout: Layout): Promise<string[]> {
  const dir = layout.storeUsersDir;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const live: string[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    if (!NOTE.test(n)) {
      // A note torn by a kill before its rename: nobody will ever name it.
      const st = await fs.stat(file).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 60_000) await fs.rm(file, { force: true });
      continue;
    }
    let note: LockOwner | undefined;
    try {
      note = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch {
      continue; // removed meanwhile
    }
    if (note && ownerGone(note)) await fs.rm(file, { force: true });
    else live.push(describeOwner(note));
  }
  return live;
}

export interface StoreHold {
  /** Whether a deploy has asked to enter since the hold began: then stop and let go. */
  wanted(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * The collector's exclusive hold on the store, or who is using it. Never waits: with a
 * live user or another collector it returns at once with `busy` naming them.
 */
export async function holdStore(layout: Layout, command: string): Promise<{ hold?: StoreHold; busy: string[] }> {
  let lock;
  try {
    lock = await acquireLock(layout.storeGcLock, { command, waitMs: 0 });
  } catch (err) {
    if (isRevError(err, 'LOCKED')) return { busy: [`another collection (${String((err.data.holder as LockOwner | undefined)?.command ?? 'gc')})`] };
    throw err;
  }
  const users = await storeUsers(layout);
  if (users.length) {
    await lock.release();
    return { busy: users };
  }
  return {
    busy: [],
    hold: {
      wanted: async () => (await fs.readdir(layout.storeUsersDir).catch(() => [] as string[])).some((n) => NOTE.test(n)),
      release: () => lock.release(),
    },
  };
}
