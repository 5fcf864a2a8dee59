#!/usr/bin/env node
// `npm run lint`: the import graph of src/ (or DIR) has no cycle and keeps the layers
//   cli → hooks → activate → releases → fetch
// (a module may import its own layer and those below it, never one above; so nothing
// imports cli). errors.ts, failpoint.ts and printable.ts at the top are shared leaves: anyone may import
// them, and they import no layer. Exits 1, naming each problem, when any is found.
//
// It reads the TypeScript sources, not dist/, so type-only imports count too: a lower
// layer that needs a higher layer's types depends on it all the same.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import madge from 'madge';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(root, process.argv[2] ?? 'src');
const layers = ['fetch', 'releases', 'activate', 'hooks', 'cli']; // lowest first
const leaves = new Set(['errors.ts', 'failpoint.ts', 'printable.ts']);

const graph = await madge(dir, { fileExtensions: ['ts'], tsConfig: path.join(root, 'tsconfig.json') });
const deps = graph.obj();
const problems = [];

// An import madge cannot resolve would drop an edge silently and hide what it leads to.
for (const spec of graph.warnings().skipped) {
  if (spec.startsWith('.')) problems.push(`unresolved import ${spec}: the check cannot see where it leads`);
}

for (const cycle of graph.circular()) problems.push(`import cycle: ${[...cycle, cycle[0]].join(' > ')}`);

const layerOf = (file) => (leaves.has(file) ? 'leaf' : file.includes('/') ? file.split('/')[0] : undefined);
for (const [file, imports] of Object.entries(deps)) {
  const from = layerOf(file);
  if (from === undefined || (from !== 'leaf' && !layers.includes(from))) {
    problems.push(`${file} is in no layer: put it under ${layers.join('/, ')}/, or make it a shared leaf in scripts/check-imports.mjs`);
    continue;
  }
  for (const target of imports) {
    const to = layerOf(target);
    if (to === 'leaf') continue;
    if (from === 'leaf') problems.push(`${file} imports ${target}: a shared leaf imports no layer`);
    else if (layers.indexOf(to) > layers.indexOf(from)) problems.push(`${file} imports ${target}: ${from} sits below ${to}, so it may not import it`);
  }
}

const where = dir.startsWith(root + path.sep) ? path.relative(root, dir) : dir;
if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`${where}: ${problems.length} import problem${problems.length === 1 ? '' : 's'} in ${Object.keys(deps).length} modules`);
  process.exit(1);
}
console.log(`${where}: ${Object.keys(deps).length} modules, no import cycle, layers ${[...layers].reverse().join(' → ')} kept`);
