// lacks: on the first deploy after an adoption, say what the live adopted release holds
// that the new release does not (`.env`, `data.db`, uploads...), before anything goes live.
// An rsync'd install often keeps files git never had; the adopted release stays on disk
// (retention never removes it), but the app will not find them in `current` any more.
// It warns and never stops the deploy.
import fs from 'node:fs/promises';
import path from 'node:path';
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

/** What `oldDir` holds that `newDir` lacks, walked without keeping more than a few names. */
export async function lackedFiles(oldDir: string, newDir: string): Promise<Lack> {
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
      const there = await fs.lstat(path.join(newDir, r)).catch(() => null);
      if (e.isDirectory()) {
        if (there?.isDirectory()) await walk(r);
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
  return live && isAdopted(live) ? undefined : 'the live release was not adopted';
}

export async function lacks(c: DeployCtx): Promise<void> {
  const live = liveBefore(c);
  const next = c.build?.staging ?? (c.target && releasePath(c.layout, c.app, c.target));
  if (!live || !next) return;
  const old = releasePath(c.layout, c.app, live);
  const l = await lackedFiles(old, next);
  if (l.count === 0) return;
  const shown = l.names.join(', ') + (l.more ? ', ...' : '');
  const warning =
    `The live release ${live.id} (adopted) has ${l.count} file${l.count === 1 ? '' : 's'} the new release lacks (${shown}); ` +
    `${old} is kept, but the app will not find them in current. ` +
    `Set variables with \`toes env set ${c.app} KEY\` and keep data files in the app's DATA_DIR (${path.join(c.layout.roots.toesDir, c.app)}).`;
  c.warnings.push(warning);
  c.say(`warning: ${warning}\n`);
}
