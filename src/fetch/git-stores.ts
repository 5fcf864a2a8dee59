// The git stores under `store/git/`: one per app and source URL, named `<app>-<key>` with
// the key a hash of the URL (gitStoreDir). Which of them a kept release still uses is the
// release layer's call; this module only lists them and removes one.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gitStoreDir } from './git-remote.js';

export interface GitStoreDir {
  dir: string;
  /** The app it belongs to. */
  owner: string;
}

const STORE_NAME = /^(.+)-[0-9a-f]{16}$/;
/** A store moved aside to be removed: the rename is the removal, the files follow. */
const GONE = '.gone-';

export function gitStoresRoot(storeRoot: string): string {
  return path.join(storeRoot, 'git');
}

export async function listGitStores(storeRoot: string): Promise<GitStoreDir[]> {
  const root = gitStoresRoot(storeRoot);
  const names = await fs.readdir(root).catch(() => [] as string[]);
  return names.flatMap((n) => {
    const m = STORE_NAME.exec(n);
    return m ? [{ dir: path.join(root, n), owner: m[1] }] : [];
  });
}

/** The store a source URL of `owner` uses (whether or not it exists). */
export function gitStoreFor(storeRoot: string, owner: string, url: string): string {
  return gitStoreDir(storeRoot, owner, url);
}

/**
 * Takes a store out of use at once (a rename, under the app's lock), so a kill can never
 * leave a half-deleted store that a fetch would trust; the files are deleted afterwards,
 * by this call or, after a kill, by the next removeLeftovers.
 */
export async function removeGitStore(dir: string): Promise<() => Promise<void>> {
  const aside = path.join(path.dirname(dir), `${GONE}${path.basename(dir)}-${randomBytes(3).toString('hex')}`);
  await fs.rename(dir, aside);
  return () => fs.rm(aside, { recursive: true, force: true });
}

/** Deletes stores moved aside by a removal that was killed; returns how many. */
export async function removeLeftovers(storeRoot: string): Promise<number> {
  const root = gitStoresRoot(storeRoot);
  const names = (await fs.readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith(GONE));
  await Promise.all(names.map((n) => fs.rm(path.join(root, n), { recursive: true, force: true })));
  return names.length;
}
