// What a release looked like when it was sealed, file by file, so a rollback (and `toes
// releases --verify`) can tell a release that was changed afterwards: a file rewritten,
// replaced, added or removed. Kept in rev/apps/<app>/seals/<id>.json, out of the release
// and out of reach of the builds (the sandbox hides rev/).
//
// Per file: size, inode, and a time. For a file of its own (one link) the time is its change
// time, which no process can set back (as relink judges private copies). A file shared with
// the store (a hard link of a blob, held by other releases too) changes ctime whenever toes
// links or unlinks that blob for another release, so its modification time stands in: a
// write moves it, and a rewrite that puts it back still changes size or inode only if it
// replaces the file; the sandbox keeps builds away from these files in the first place.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from '../releases/durable.js';
import type { Layout } from '../releases/paths.js';

/** [path, size, inode, time (ns), 1 when shared with the store] */
type Row = [string, number, string, string, 0 | 1];

interface SealFile {
  v: 1;
  files: Row[];
}

export function sealFile(layout: Layout, app: string, id: string): string {
  return path.join(layout.appState(app), 'seals', `${id}.json`);
}

/** Every file and symlink under `dir` (folders are not recorded), in a stable order. */
function walk(dir: string, visit: (rel: string, st: fs.BigIntStats) => void): void {
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    const abs = rel ? `${dir}/${rel}` : dir;
    for (const d of fs.readdirSync(abs, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) stack.push(p);
      else visit(p, fs.lstatSync(`${dir}/${p}`, { bigint: true }));
    }
  }
}

function row(rel: string, st: fs.BigIntStats): Row {
  const shared = st.isFile() && st.nlink > 1n;
  return [rel, Number(st.size), String(st.ino), String(shared ? st.mtimeNs : st.ctimeNs), shared ? 1 : 0];
}

/** Records the staging tree as it is sealed, and drops the records of releases gone from disk. */
export async function recordSeal(layout: Layout, app: string, id: string, staging: string): Promise<void> {
  const files: Row[] = [];
  walk(staging, (rel, st) => files.push(row(rel, st)));
  const file = sealFile(layout, app, id);
  const seals = path.dirname(file);
  fs.mkdirSync(seals, { recursive: true });
  for (const name of fs.readdirSync(seals)) {
    const other = name.replace(/\.json$/, '');
    if (other !== id && !fs.existsSync(layout.releaseDir(app, other))) fs.rmSync(path.join(seals, name), { force: true });
  }
  const seal: SealFile = { v: 1, files };
  await writeFileDurable(file, JSON.stringify(seal));
}

export interface SealCheck {
  /** false: the release was sealed before seals were recorded (or was adopted): nothing to compare. */
  recorded: boolean;
  /** Paths that differ from the seal, sorted; each with what changed. */
  changed: { path: string; how: 'changed' | 'added' | 'removed' }[];
}

/** Compares the release directory `dir` with the record made when release `id` was sealed. */
export function checkSeal(layout: Layout, app: string, id: string, dir: string): SealCheck {
  let seal: SealFile;
  try {
    seal = JSON.parse(fs.readFileSync(sealFile(layout, app, id), 'utf8'));
  } catch {
    return { recorded: false, changed: [] };
  }
  const expected = new Map<string, Row>();
  for (const r of seal.files) expected.set(r[0], r);
  const changed: SealCheck['changed'] = [];
  try {
    walk(dir, (rel, st) => {
      const want = expected.get(rel);
      if (!want) return void changed.push({ path: rel, how: 'added' });
      expected.delete(rel);
      const have = row(rel, st);
      // A shared file that is now the last link (the other releases pruned) keeps its mtime.
      const time = want[4] ? String(st.mtimeNs) : have[3];
      if (have[1] !== want[1] || have[2] !== want[2] || time !== want[3]) changed.push({ path: rel, how: 'changed' });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const rel of expected.keys()) changed.push({ path: rel, how: 'removed' });
  changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { recorded: true, changed };
}

/** The first few changes, in words: `index.ts changed, .env added` (and how many more). */
export function describeChanges(changed: SealCheck['changed'], first = 3): string {
  // A path comes from the repository or the build: no control character reaches a terminal.
  const shown = (p: string) => p.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const named = changed.slice(0, first).map((c) => `${shown(c.path)} ${c.how}`);
  const more = changed.length - named.length;
  return named.join(', ') + (more > 0 ? ` and ${more} more` : '');
}
