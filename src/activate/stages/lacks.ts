// lacks: on the first deploy after an adoption, say what the live adopted release holds
// that the new release does not (`.env`, `data.db`, uploads...), before anything goes live.
// An rsync'd install often keeps files git never had; the adopted release stays on disk
// (retention never removes it), but the app will not find them in `current` any more.
// It warns and never stops the deploy.
import fs from 'node:fs/promises';
import path from 'node:path';
import { foldersOf, type Entry } from '../../fetch/index.js';
import { isAdopted, releasePath } from '../../releases/reconcile.js';
import { liveBefore, type DeployCtx } from '../context.js';

/** Directories the build makes again, or that never belong to an app's own files. */
const IGNORED = new Set(['node_modules', '.git']);
const NAMES_SHOWN = 5;

export interface Lack {
  /** Files under `oldDir` with no entry at the same path under `newDir`. */
  count: number;
  /** The first of them, a wholly missing directory as one `name/`. */
  names: string[];
  /** More are missing than `names` shows. */
  more: boolean;
}

/** What the new release holds at a path: a folder, something else, or nothing. */
export type Holds = (rel: string) => Promise<'dir' | 'other' | undefined>;

/** A release directory on disk (a staging tree or a sealed release). */
export function onDisk(dir: string): Holds {
  return async (rel) => {
    const st = await fs.lstat(path.join(dir, rel)).catch(() => null);
    return st ? (st.isDirectory() ? 'dir' : 'other') : undefined;
  };
}

/** A snapshot not yet materialized (`toes deploy --dry-run`): its entries' paths and folders. */
export function inSnapshot(entries: Entry[]): Holds {
  const dirs = new Set(foldersOf(entries.map((e) => e.path)));
  const files = new Set(entries.map((e) => e.path));
  return async (rel) => (dirs.has(rel) ? 'dir' : files.has(rel) ? 'other' : undefined);
}

/** What `oldDir` holds that the new release lacks, walked without keeping more than a few names. */
export async function lackedFiles(oldDir: string, holds: Holds): Promise<Lack> {
  const out: Lack = { count: 0, names: [], more: false };
  const note = (rel: string) => {
    if (out.names.length < NAMES_SHOWN) out.names.push(rel);
    else out.more = true;
  };
  const countFiles = async (dir: string): Promise<number> => {
    let n = 0;
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) n += e.isDirectory() ? await countFiles(path.join(dir, e.name)) : 1;
    return n;
  };
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(oldDir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => Number(b.name.startsWith('.')) - Number(a.name.startsWith('.')) || a.name.localeCompare(b.name))) {
      if (!rel && IGNORED.has(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      const there = await holds(r);
      if (e.isDirectory()) {
        if (there === 'dir') await walk(r);
        else {
          const n = await countFiles(path.join(oldDir, r));
          if (n === 0) continue;
          out.count += n;
          note(`${r}/`);
        }
      } else if (!there) {
        out.count++;
        note(r);
      }
    }
  };
  await walk('');
  return out;
}

export function skipLacks(c: DeployCtx): string | undefined {
  if (c.decision?.kind === 'unchanged') return 'that version is live already';
  const live = liveBefore(c);
  return live && isAdopted(live) ? undefined : 'no adopted release is live';
}

export async function lacks(c: DeployCtx): Promise<void> {
  const live = liveBefore(c);
  const next = c.build?.staging ?? (c.target && releasePath(c.layout, c.app, c.target));
  const holds = next ? onDisk(next) : c.snapshot && inSnapshot(c.snapshot.entries);
  if (!live || !holds) return;
  // Through `current`: before the swap it names the live release, and in a dry run it is
  // still the plain directory that the plan adopts.
  const l = await lackedFiles(c.layout.currentLink(c.app), holds);
  if (l.count === 0) return;
  const shown = l.names.join(', ') + (l.more ? ', ...' : '');
  const warning =
    `The live release ${live.id} (adopted) has ${l.count} file${l.count === 1 ? '' : 's'} the new release lacks (${shown}); ` +
    `${releasePath(c.layout, c.app, live)} is kept, but the app will not find them in current. ` +
    `Set variables with \`toes env set ${c.app} KEY\` and keep data files in the app's DATA_DIR (${path.join(c.layout.roots.toesDir, c.app)}).`;
  c.warnings.push(warning);
  c.say(`warning: ${warning}\n`);
}
