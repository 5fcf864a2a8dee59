// A script run as a process of its own (the deploy worker, the prune collector) lies beside
// the module that starts it, in dist/src and in each runtime's bundle alike: NAME.cjs in
// Node's bundle, whose one-file builds are CommonJS, else NAME.js.
import fs from 'node:fs';
import path from 'node:path';

export function entryBeside(dir: string, name: string): string {
  const cjs = path.join(dir, `${name}.cjs`);
  return fs.existsSync(cjs) ? cjs : path.join(dir, `${name}.js`);
}
