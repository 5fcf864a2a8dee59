// .gitattributes patterns and export-subst files come from the repository being deployed: a
// hostile pattern must not stall the fetch (one of many stars tried as a backtracking regular
// expression took minutes on one 60-character name), matching without backtracking must
// still say what git says, and a file of placeholders must not grow past what a Pi holds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { exportEntries, MAX_SUBST_BYTES } from '../../src/fetch/export-attrs.js';
import { ArchiveAttributes, MATCH_STEPS_MAX } from '../../src/fetch/gitattributes.js';
import type { Entry } from '../../src/fetch/snapshot.js';
import { tmpDir } from '../fixtures/cli.js';
import { git } from '../fixtures/repo.js';
import { assertRevError } from '../fixtures/tar.js';

// A guard, not a measurement: before the fix this test did not end.
test('a pattern of many stars matches a long name at once', { timeout: 120_000 }, () => {
  const rule = `${'*a'.repeat(12)}*b export-ignore\nsub/${'*a'.repeat(12)}*b/** export-ignore\n`;
  const attrs = new ArchiveAttributes(new Map([['', rule]]));
  assert.equal(attrs.ignored('a'.repeat(80)), false);
  assert.equal(attrs.ignored(`${'a'.repeat(80)}b`), true);
  assert.equal(attrs.ignored(`sub/${'a'.repeat(80)}/x`), false);
  assert.equal(attrs.ignored(`sub/${'a'.repeat(80)}b/x`), true);
});

test('patterns with several stars say what git check-attr says, on short paths and long ones', () => {
  const dir = tmpDir('toes-rev-attrs-stars-');
  try {
    git(dir, 'init', '-q');
    const patterns = ['*a*b', 'src/**/*.map', '**/gen/*.ts', 'a*/**/b*', '*[0-9]*x*', 'x/*/y/*', '**/*.d.*', 'lib/**/*', '*.*.*', 'a**b*c', 'd/a**b/*', '?*?*?', '**/a*/**/c', '[!a]*/*[ab]*'];
    // Past 600 characters even two stars are matched as states, not as a regular expression.
    const long = 'q'.repeat(600);
    const short = [
      'src/a/b/c.map', 'src/c.map', 'x.map', 'gen/a.ts', 'p/gen/a.ts', 'p/gen/q/a.ts', 'ab', 'acb', 'a/b', 'aa/x/bb', 'aa/bb', 'q7zx', 'x/1/y/2', 'x/1/2/y/3',
      'lib/a/b', 'lib', 'a.b.c', 'a.b', 'd/aXb/q', 'd/aX/Yb/q', 'aab/c', 'abc', 'a/b/c', 'a1/c', 'z/q/a1/r/c', 'ba/xb', 'b/c', 'types/x.d.ts',
    ];
    const paths = [...short, ...short.map((p) => `${long}/${p}`), ...short.map((p) => `${p}${long}`), ...short.map((p) => p.replace('/', `/${long}/`))];
    for (const pattern of patterns) {
      const rules = `${pattern} export-ignore\n`;
      fs.writeFileSync(path.join(dir, '.gitattributes'), rules);
      const out = execFileSync('git', ['check-attr', '--stdin', 'export-ignore'], { cwd: dir, input: paths.join('\n') + '\n', encoding: 'utf8' });
      const theirs = out.trim().split('\n').map((l) => l.endsWith(': set'));
      const attrs = new ArchiveAttributes(new Map([['', rules]]));
      const ours = paths.map((p) => attrs.isSet(p, 'export-ignore'));
      const differ = paths.filter((p, i) => ours[i] !== theirs[i]).map((p) => `${pattern} on ${p}: git ${theirs[paths.indexOf(p)]}`);
      assert.deepEqual(differ, []);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a tree whose patterns would take too long to match is refused, and nothing is exported', async (t) => {
  const dir = tmpDir('toes-rev-attrs-work-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const commit = { oid: 'c'.repeat(40), content: Buffer.from(`tree ${'t'.repeat(40)}\n\nmsg\n`) };
  let stored = 0;
  const src = { commit, refs: { decorations: [] }, file: (e: Entry) => path.join(dir, e.path), store: async () => void stored++ };
  // 400 lines of 1,000 stars each: under the 1 MiB bound on attributes, but each name costs
  // each line about 100,000 steps.
  fs.writeFileSync(path.join(dir, '.gitattributes'), `${'*a'.repeat(1000)}*b export-subst\n`.repeat(400));
  const entries: Entry[] = [{ path: '.gitattributes', kind: 'file', oid: 'a'.repeat(40) }];
  for (let i = 0; i < 50; i++) entries.push({ path: `${'a'.repeat(100)}${i}`, kind: 'file', oid: String(i).padStart(40, '0') });
  const err = await assertRevError(exportEntries(entries, src), 'LIMIT_EXCEEDED', /^Refused to deploy: the patterns of this commit's \.gitattributes files take more than 20,000,000 steps to match against its paths, .*; simplify the patterns with many wildcards and deploy again\.$/);
  assert.equal(err.data.max, MATCH_STEPS_MAX);
  assert.equal(stored, 0);
});

test('an export-subst file whose placeholders would grow it past the bound is refused, and nothing is stored', async (t) => {
  const dir = tmpDir('toes-rev-subst-grow-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // An 8 KiB message, and 32 KiB of %B: 24 MiB once expanded.
  const message = `${'m'.repeat(8 * 1024)}\n`;
  const commit = { oid: 'c'.repeat(40), content: Buffer.from(`tree ${'t'.repeat(40)}\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\n${message}`) };
  const stored: Buffer[] = [];
  const src = { commit, refs: { decorations: [] }, file: (e: Entry) => path.join(dir, e.path), store: async (_oid: string, _exec: boolean, b: Buffer) => void stored.push(b) };
  fs.writeFileSync(path.join(dir, '.gitattributes'), 'V* export-subst\n');
  fs.writeFileSync(path.join(dir, 'V1'), '$Format:%H %B$\n');
  fs.writeFileSync(path.join(dir, 'V2'), '$Format:%B$'.repeat(3 * 1024));
  const entries: Entry[] = [
    { path: '.gitattributes', kind: 'file', oid: 'a'.repeat(40) },
    { path: 'V1', kind: 'file', oid: '1'.repeat(40) },
    { path: 'V2', kind: 'file', oid: '2'.repeat(40) },
  ];
  const err = await assertRevError(exportEntries(entries, src), 'LIMIT_EXCEEDED', /^Refused to deploy: the file "V2", marked export-subst, would grow past 16 MiB once its \$Format:\.\.\.\$ placeholders are expanded, .*; use fewer placeholders and deploy again\.$/);
  assert.equal(err.data.max, MAX_SUBST_BYTES);
  // The small one was expanded as git would; the big one never reached the store.
  assert.equal(stored.length, 1);
  assert.equal(stored[0].toString(), `${'c'.repeat(40)} ${message}\n`);
});
