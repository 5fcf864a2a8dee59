// `npm run lint` (scripts/check-imports.mjs) on small trees of its own: it must see through
// NodeNext's `.js` specifiers to the `.ts` files, or a cycle or a reversed layer would pass.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { projectRoot, tmpDir } from '../fixtures/cli.js';

const checker = path.join(projectRoot, 'scripts', 'check-imports.mjs');

/** A tree with one module per layer, each importing the one below and the shared leaf. */
function layeredTree(t: TestContext): string {
  const dir = tmpDir('toes-rev-imports-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'errors.ts': 'export const e = 1;\n',
    'fetch/a.ts': "import { e } from '../errors.js';\nexport const a = e;\n",
    'releases/b.ts': "import { a } from '../fetch/a.js';\nexport const b = a;\n",
    'activate/c.ts': "import { b } from '../releases/b.js';\nexport const c = b;\n",
    'hooks/d.ts': "import { c } from '../activate/c.js';\nexport const d = () => import('../activate/c.js');\nexport const dd = c;\n",
    'cli/e.ts': "import { d } from '../hooks/d.js';\nexport const e = d;\n",
  };
  for (const [name, text] of Object.entries(files)) write(dir, name, text);
  return dir;
}

function write(dir: string, name: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  fs.writeFileSync(path.join(dir, name), text);
}

function check(dir: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [checker, dir], (error, out, err) => resolve({ code: error ? Number(error.code) : 0, out, err }));
  });
}

/** Adds `files` to a layered tree: the check must fail and say each of `said`. */
async function refused(t: TestContext, files: Record<string, string>, said: RegExp[]): Promise<void> {
  const dir = layeredTree(t);
  for (const [name, text] of Object.entries(files)) write(dir, name, text);
  const r = await check(dir);
  assert.equal(r.code, 1, r.out);
  for (const re of said) assert.match(r.err, re);
}

test('a tree that keeps the layers passes', async (t) => {
  const r = await check(layeredTree(t));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /6 modules, no import cycle/);
});

test('a cycle is named, module by module', (t) =>
  refused(
    t,
    {
      'fetch/x.ts': "import { y } from './y.js';\nexport const x = () => y;\n",
      'fetch/y.ts': "import { x } from './x.js';\nexport const y = () => x;\n",
    },
    [/^import cycle: fetch\/x\.ts > fetch\/y\.ts > fetch\/x\.ts$/m],
  ));

test('a lower layer importing a higher one, even for a type or lazily, is refused, and so is importing cli', (t) =>
  refused(
    t,
    {
      'fetch/types.ts': "import type { b } from '../releases/b.js';\nexport type B = typeof b;\n",
      'releases/lazy.ts': "export const later = () => import('../hooks/d.js');\n",
      'hooks/up.ts': "import { e } from '../cli/e.js';\nexport const up = e;\n",
    },
    [/fetch\/types\.ts imports releases\/b\.ts: fetch sits below releases/, /releases\/lazy\.ts imports hooks\/d\.ts: releases sits below hooks/, /hooks\/up\.ts imports cli\/e\.ts: hooks sits below cli/],
  ));

test('an import it cannot resolve, a module in no layer and a leaf that imports a layer are refused', (t) =>
  refused(
    t,
    {
      'fetch/lost.ts': "import { z } from './nowhere.js';\nexport const lost = z;\n",
      'util/u.ts': 'export const u = 1;\n',
      'failpoint.ts': "import { a } from './fetch/a.js';\nexport const f = a;\n",
    },
    [/unresolved import \.\/nowhere\.js/, /util\/u\.ts is in no layer/, /failpoint\.ts imports fetch\/a\.ts: a shared leaf imports no layer/],
  ));
