// The bench app's files: a deterministic tree of text-like files shaped like a real
// project (many small sources, a few big ones, nested folders), with no dependencies.
import { int, pick, type Rng } from './prng.js';

export interface TreeSpec {
  files: number;
  dirs: number;
  totalBytes: number;
}

const WORDS = (
  'const let return import export from function async await if else for while ' +
  'value state config release store fetch swap current build install app data ' +
  'request response handler router server client token secret cache buffer stream ' +
  'error result options params index count total limit offset page user item list ' +
  'map set get put delete update create remove render view model query filter sort'
).split(' ');
const EXTS = ['ts', 'ts', 'ts', 'tsx', 'js', 'md', 'json', 'css', 'txt'];

/** Text that compresses like source code does (a small vocabulary, indentation, punctuation). */
export function textOfSize(rng: Rng, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const indent = '  '.repeat(int(rng, 0, 3));
    const n = int(rng, 2, 12);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(pick(rng, WORDS));
    const line = `${indent}${words.join(' ')}${pick(rng, [';', ' {', ' }', ',', ''])} // ${int(rng, 0, 99999)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n').slice(0, Math.max(0, bytes - 1)) + '\n';
}

/** Folder paths: a random tree, at most five levels deep. */
function makeDirs(rng: Rng, count: number): string[] {
  const dirs = [''];
  for (let i = 1; i < count; i++) {
    const shallow = dirs.filter((d) => d.split('/').length < 5);
    const parent = pick(rng, shallow);
    dirs.push(`${parent ? parent + '/' : ''}${pick(rng, WORDS)}-${i}`);
  }
  return dirs;
}

/** Sizes skewed like a real repo (most files small, a few large), scaled to the total. */
function makeSizes(rng: Rng, count: number, total: number): number[] {
  const raw = Array.from({ length: count }, () => {
    const r = rng();
    return r < 0.7 ? int(rng, 300, 4000) : r < 0.95 ? int(rng, 4000, 20000) : int(rng, 20000, 90000);
  });
  const scale = total / raw.reduce((a, b) => a + b, 0);
  return raw.map((s) => Math.max(16, Math.round(s * scale)));
}

/** path → content, including a package.json with no dependencies and no predeploy. */
export function makeTree(rng: Rng, spec: TreeSpec): Map<string, string> {
  const files = new Map<string, string>();
  files.set('package.json', JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, scripts: { toes: 'bun index.ts' } }, null, 2) + '\n');
  files.set('index.ts', 'export default { fetch: () => new Response("ok") };\n');
  const dirs = makeDirs(rng, spec.dirs);
  const sizes = makeSizes(rng, spec.files - files.size, spec.totalBytes);
  sizes.forEach((size, i) => {
    const dir = pick(rng, dirs);
    files.set(`${dir ? dir + '/' : ''}${pick(rng, WORDS)}-${i}.${pick(rng, EXTS)}`, textOfSize(rng, size));
  });
  return files;
}
