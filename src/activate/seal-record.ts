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
import { printable } from '../printable.js';

/** [path, size, inode, time (ns), kind: 0 a file of its own or a symlink, 1 a file shared with the store, 2 a folder] */
type Row = [string, number, string, string, 0 | 1 | 2];

interface SealFile {
  v: 1;
  files: Row[];
}

export function sealFile(layout: Layout, app: string, id: string): string {
  return path.join(layout.appState(app), 'seals', `${id}.json`);
}

/** Every entry under `dir` (not `dir` itself), folders before what they hold. */
function walk(dir: string, visit: (rel: string, st: fs.BigIntStats) => void): void {
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    for (const name of fs.readdirSync(rel ? `${dir}/${rel}` : dir)) {
      const p = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(`${dir}/${p}`, { bigint: true });
      visit(p, st);
      if (st.isDirectory()) stack.push(p);
    }
  }
}

// A folder's change time moves when an entry is added, removed or renamed in it: the check
// needs one lstat per folder instead of reading every folder again.
function row(rel: string, st: fs.BigIntStats): Row {
  const kind = st.isDirectory() ? 2 : st.isFile() && st.nlink > 1n ? 1 : 0;
  return [rel, kind === 2 ? 0 : Number(st.size), String(st.ino), String(kind === 1 ? st.mtimeNs : st.ctimeNs), kind];
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

/**
 * Compares the release directory `dir` with the record made when release `id` was sealed:
 * one lstat per recorded entry, and a listing only of the release's top folder and of
 * folders whose entries changed.
 */
export function checkSeal(layout: Layout, app: string, id: string, dir: string): SealCheck {
  let seal: SealFile;
  try {
    seal = JSON.parse(fs.readFileSync(sealFile(layout, app, id), 'utf8'));
  } catch {
    return { recorded: false, changed: [] };
  }
  const changed: SealCheck['changed'] = [];
  // The top folder was renamed into place after the record (its change time moved): always listed.
  const folders: string[] = [''];
  for (const want of seal.files) {
    const rel = want[0];
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(`${dir}/${rel}`, { bigint: true });
    } catch {
      changed.push({ path: rel, how: 'removed' });
      continue;
    }
    // A shared file that is now the last link (the other releases pruned) keeps its mtime.
    const time = String(want[4] === 1 ? st.mtimeNs : st.ctimeNs);
    const size = want[4] === 2 ? 0 : Number(st.size);
    if (size !== want[1] || String(st.ino) !== want[2] || time !== want[3] || (want[4] === 2) !== st.isDirectory()) {
      if (want[4] === 2 && st.isDirectory()) folders.push(rel);
      else changed.push({ path: rel, how: 'changed' });
    }
  }
  // A folder whose entries changed only by removals or renames is named by those.
  const known = new Set(seal.files.map((r) => r[0]));
  for (const f of folders) {
    let names: string[];
    try {
      names = fs.readdirSync(f ? `${dir}/${f}` : dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = f ? `${f}/${n}` : n;
      if (!known.has(p)) changed.push({ path: p, how: 'added' });
    }
  }
  changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { recorded: true, changed };
}

/** The first few changes, in words: `index.ts changed, .env added` (and how many more). */
export function describeChanges(changed: SealCheck['changed'], first = 3): string {
  // A path comes from the repository or the build: no control character reaches a terminal.
  const named = changed.slice(0, first).map((c) => `${printable(c.path)} ${c.how}`);
  const more = changed.length - named.length;
  return named.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

// What Bun, Node or the app's own imports pick up without being asked: a file of these kinds
// added to a release changes what runs, so it is refused like a changed file.
const LOADED = /(^|\/)(\.env(\..*)?|bunfig\.toml|package\.json|tsconfig\.json|\.npmrc)$|\.(c|m)?(j|t)sx?$|(^|\/)node_modules(\/|$)/;

/**
 * A running app writes into its own folder (a log, an SQLite file, uploads): such a file,
 * added after the seal and of no kind a runtime loads by itself, does not stop a rollback to
 * that release. Everything else that changed does.
 */
export function splitChanges(changed: SealCheck['changed']): { refused: SealCheck['changed']; kept: SealCheck['changed'] } {
  const kept = changed.filter((c) => c.how === 'added' && !LOADED.test(c.path));
  return { refused: changed.filter((c) => !kept.includes(c)), kept };
}
