// Reading and swapping `current`. The swap makes a new symlink beside `current` and
// rename(2)s it over: at every instant `current` names a complete release. Never
// `ln -sfn` (unlink then create) and never `mv -T` (GNU only).
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { fsyncDir } from './durable.js';
import { nextLinkFor } from './paths.js';
import { randomHex } from '../fetch/hash.js';

export type CurrentState =
  | { kind: 'missing' }
  | { kind: 'link'; target: string; abs: string }
  | { kind: 'dir' };

export async function readCurrent(link: string): Promise<CurrentState> {
  try {
    const st = await fs.lstat(link);
    if (st.isSymbolicLink()) {
      const target = await fs.readlink(link);
      return { kind: 'link', target, abs: path.resolve(path.dirname(link), target) };
    }
    if (st.isDirectory()) return { kind: 'dir' };
    return { kind: 'missing' };
  } catch {
    return { kind: 'missing' };
  }
}

/** Points `link` at `target` (relative names stay relative, as Toes makes them). */
export async function swapCurrent(link: string, target: string): Promise<void> {
  const dir = path.dirname(link);
  const tmp = nextLinkFor(link, randomHex(6));
  try {
    await fs.symlink(target, tmp);
    await failpoint('swap');
    await fs.rename(tmp, link);
    await fsyncDir(dir);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw translateSystemError(err, 'swapping current');
  }
}
