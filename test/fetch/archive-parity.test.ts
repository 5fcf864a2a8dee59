// A release of a git source holds what `git archive <commit> | tar -x` holds: .gitattributes'
// export-ignore leaves paths out and export-subst expands `$Format:...$` from the commit,
// compared file by file (content, exec bit, symlink text) with git's own archive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { BlobStore, gitBlobId } from '../../src/fetch/blobs.js';
import { fetchSnapshot, probeSource } from '../../src/fetch/index.js';
import { exportEntries, MAX_ATTR_BYTES, MAX_SUBST_BYTES } from '../../src/fetch/export-attrs.js';
import { ArchiveAttributes } from '../../src/fetch/gitattributes.js';
import type { Entry } from '../../src/fetch/snapshot.js';
import { parseSource } from '../../src/fetch/source.js';
import { tmpDir } from '../fixtures/cli.js';
import { git } from '../fixtures/repo.js';
import { treeOf } from '../fixtures/trees.js';
import { makeWorld, type World } from '../fixtures/world.js';
import { assertRevError } from '../fixtures/tar.js';

const ATTRS = `# what the archive leaves out, and what it fills in
.gitattributes export-ignore
docs export-ignore
*.log export-ignore
keep.log !export-ignore
tests/ export-ignore
/build/**/*.map export-ignore
!notes.txt export-ignore
"with space.txt" export-ignore
dropped-link export-ignore
VERSION export-subst
bin/* export-subst
plain.txt export-subst
plain.txt -export-subst
${'x'.repeat(2100)} export-ignore
`;

const FORMAT = [
  '$Format:%H %h %T %t %P %p$',
  '$Format:%an <%ae> %ad|%aD|%ai|%aI|%at|%as$',
  '$Format:%cn <%ce> %cd|%cD|%ci|%cI|%ct|%cs$',
  '$Format:%s|%d|%D|%x41%n%%|%Q|%N$',
  '$Format:%B$',
  '$Format:%b$',
  '$Format:unterminated',
].join('\n');

const FILES: Record<string, string> = {
  'package.json': '{"name":"sample","version":"1.0.0"}\n',
  '.gitattributes': ATTRS,
  'docs/guide.md': '# guide\n',
  'app.log': 'log\n',
  'keep.log': 'kept\n',
  'sub/deep.log': 'log\n',
  'sub/kept.txt': 'kept\n',
  'tests/a.test.js': 'test\n',
  'tests/nested/b.js': 'test\n',
  'build/app.js': 'code\n',
  'build/app.js.map': '{}\n',
  'build/x/y/app.js.map': '{}\n',
  'notes.txt': 'not substituted: $Format:%H$\n',
  'with space.txt': 'gone\n',
  'VERSION': `${FORMAT}\n`,
  'plain.txt': '$Format:%H$\n',
  'src/.gitattributes': 'version.ts export-subst\n*.tmp export-ignore\nkeep.tmp -export-ignore\ngen/ export-ignore\n',
  'src/version.ts': "export const v = '$Format:%H$'; // $Format:%(describe)$ $Format:%(describe)$\n",
  'src/a.tmp': 'tmp\n',
  'src/keep.tmp': 'tmp\n',
  'src/gen/x.ts': 'generated\n',
  'src/main.ts': 'main\n',
  'lib/.gitattributes': '* export-ignore\nindex.js -export-ignore\n',
  'lib/index.js': 'index\n',
  'lib/other.js': 'other\n',
  'lib/deep/z.js': 'z\n',
};

/** Files and links under `dir`: content (or link text) and whether it is executable. */
const listing = (dir: string) => treeOf(dir, (abs) => `${fs.statSync(abs).mode & 0o111 ? 'exec' : 'file'} ${fs.readFileSync(abs, 'utf8')}`);

function gitArchive(w: World, treeish: string): Record<string, string> {
  const out = tmpDir('toes-rev-archive-');
  try {
    const tar = execFileSync('git', ['archive', treeish], { cwd: w.repo.bare, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    execFileSync('tar', ['-x', '-C', out], { input: tar });
    return listing(out);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function deployed(w: World, ref?: string): Promise<Record<string, string>> {
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', ...(ref ? ['--ref', ref] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return listing(path.join(w.apps, 'sample', 'current'));
}

/** The parity repository served, its last commit made with fixed dates, bin/run and two links. */
async function parityWorld(t: TestContext): Promise<World> {
  // A zone off UTC: git prints UTC as +00:00 or Z depending on its version.
  const dates = { GIT_AUTHOR_DATE: '2026-03-04T05:06:07+0530', GIT_COMMITTER_DATE: '2025-01-02T03:04:05-0800' };
  Object.assign(process.env, dates);
  const w = await makeWorld({ files: FILES });
  t.after(() => w.close());
  try {
    fs.mkdirSync(path.join(w.repo.work, 'bin'));
    fs.writeFileSync(path.join(w.repo.work, 'bin/run'), '#!/bin/sh\necho $Format:%h$\n', { mode: 0o755 });
    fs.symlinkSync('VERSION', path.join(w.repo.work, 'link'));
    fs.symlinkSync('docs/guide.md', path.join(w.repo.work, 'dropped-link'));
    w.repo.commit({}, 'Archive parity\nacross two lines\n\nThe body.\n\nSigned-off-by: T <t@example.com>');
  } finally {
    for (const k of Object.keys(dates)) delete process.env[k];
  }
  return w;
}

test('a release holds what git archive holds, with export-ignore and export-subst from the tree', async (t) => {
  const w = await parityWorld(t);
  const expected = gitArchive(w, 'main');
  const release = await deployed(w);
  assert.deepEqual(release, expected);
  // The rules did something: what they leave out is gone, what they fill in is filled.
  for (const gone of ['.gitattributes', 'docs/guide.md', 'app.log', 'sub/deep.log', 'tests/a.test.js', 'build/x/y/app.js.map', 'build/app.js.map', 'with space.txt', 'dropped-link', 'src/a.tmp', 'src/gen/x.ts', 'lib/other.js', 'lib/deep/z.js', 'lib/.gitattributes', 'src/.gitattributes']) {
    assert.ok(!(gone in release), `${gone} is left out`);
  }
  for (const kept of ['keep.log', 'notes.txt', 'src/keep.tmp', 'lib/index.js', 'build/app.js', 'link']) assert.ok(kept in release, `${kept} is kept`);
  const head = git(w.repo.bare, 'rev-parse', 'main');
  assert.ok(release['VERSION'].startsWith(`file ${head} ${head.slice(0, 7)}`));
  assert.match(release['VERSION'], /\(HEAD -> main\)/);
  assert.equal(release['plain.txt'], 'file $Format:%H$\n');
  assert.equal(release['bin/run'], `exec #!/bin/sh\necho ${head.slice(0, 7)}\n`);
  // One %(describe) per archive is expanded (to nothing: no annotated tag), the next left as written.
  assert.equal(release['src/version.ts'], `file export const v = '${head}'; //  %(describe)\n`);
  // A repository on this machine is exported the same way.
  const r = await w.toes(['deploy', 'local', '--from', w.repo.bare, '--no-install']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(listing(path.join(w.apps, 'local', 'current')), expected);
});

test('an annotated tag deployed: its name is what %(describe) prints and one of the decorations', async (t) => {
  const w = await parityWorld(t);
  git(w.repo.work, 'tag', '-a', 'v1', '-m', 'v1');
  git(w.repo.work, 'push', '-q', 'origin', 'v1');
  const tagged = await deployed(w, 'v1');
  assert.deepEqual(tagged, gitArchive(w, 'v1'));
  assert.match(tagged['VERSION'], /\(HEAD -> main, tag: v1\)/);
  assert.match(tagged['src/version.ts'], /\/\/ v1 %\(describe\)/);
});

test('a substituted file is new content in the store; the commit\'s blob keeps its own', async (t) => {
  const w = await makeWorld({ files: { 'package.json': '{}\n', '.gitattributes': 'V export-subst\n', 'V': '$Format:%H$\n', 'W': '$Format:%H$\n' } });
  t.after(() => w.close());
  const store = tmpDir('toes-rev-subst-');
  t.after(() => fs.rmSync(store, { recursive: true, force: true }));
  const ctx = { storeRoot: store, owner: 'sample', tmpRoot: path.join(store, 'tmp'), blobs: new BlobStore(path.join(store, 'blobs')) };
  const src = parseSource(w.url);
  const snap = await fetchSnapshot(src, await probeSource(src, undefined, ctx), ctx);
  const head = git(w.repo.bare, 'rev-parse', 'main');
  const original = gitBlobId(Buffer.from('$Format:%H$\n'));
  const v = snap.entries.find((e) => e.path === 'V')!;
  const wEntry = snap.entries.find((e) => e.path === 'W')!;
  assert.equal(v.oid, gitBlobId(Buffer.from(`${head}\n`)));
  assert.equal(wEntry.oid, original);
  assert.equal(fs.readFileSync(ctx.blobs.pathOf(v.oid, false), 'utf8'), `${head}\n`);
  // Not in the prepared tree: materialize links it from the store, not the commit's file.
  assert.ok(!snap.prepared?.paths.has('V'));
  await snap.settle?.();
  assert.equal(fs.readFileSync(ctx.blobs.pathOf(original, false), 'utf8'), '$Format:%H$\n');
  fs.rmSync(snap.prepared?.dir ?? path.join(store, 'none'), { recursive: true, force: true });
});

test('attribute patterns match as git check-attr matches them', () => {
  const dir = tmpDir('toes-rev-attrs-');
  try {
    const rules = [
      'a.txt export-ignore',
      '*.md export-ignore',
      'README.md -export-ignore',
      'doc/ export-ignore',
      '/top.js export-ignore',
      'x/**/deep.js export-ignore',
      '**/any.js export-ignore',
      'q/*.c export-ignore',
      'f?.h export-ignore',
      'r[0-9].txt export-ignore',
      'n[!a-c].txt export-ignore',
      'cls[[:digit:]].txt export-ignore',
      'w/** export-ignore',
      'w/keep export-ignore=no',
      'esc\\*.txt export-ignore',
      'e.txt export-ignore -export-ignore',
      'u.txt export-ignore',
      'u.txt !export-ignore',
      '"sp ace.txt" export-ignore',
    ].join('\n');
    const nested = 'local.js export-ignore\n/anchored.js export-ignore\n*.md !export-ignore\n';
    const paths = [
      'a.txt', 'sub/a.txt', 'b.md', 'sub/c.md', 'README.md', 'sub/README.md', 'doc', 'sub/doc', 'top.js', 'sub/top.js',
      'x/deep.js', 'x/y/z/deep.js', 'deep.js', 'any.js', 'p/q/any.js', 'q/m.c', 'q/r/m.c', 'fa.h', 'fab.h', 'r5.txt', 'ra.txt',
      'nd.txt', 'nb.txt', 'cls7.txt', 'clsx.txt', 'w/a', 'w/b/c', 'w', 'w/keep', 'esc*.txt', 'escx.txt', 'e.txt', 'u.txt', 'sp ace.txt',
      'sub/local.js', 'sub/deeper/local.js', 'local.js', 'sub/anchored.js', 'sub/deeper/anchored.js', 'sub/n.md',
    ];
    git(dir, 'init', '-q');
    fs.writeFileSync(path.join(dir, '.gitattributes'), rules + '\n');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub/.gitattributes'), nested);
    // Folders are asked with a trailing slash, as git archive asks.
    const dirs = new Set(['doc', 'sub/doc', 'w']);
    const out = execFileSync('git', ['check-attr', 'export-ignore', '--', ...paths.map((p) => (dirs.has(p) ? `${p}/` : p))], { cwd: dir, encoding: 'utf8' });
    const theirs = out.trim().split('\n').map((l) => l.endsWith(': set'));
    const attrs = new ArchiveAttributes(new Map([['', rules], ['sub', nested]]));
    const ours = paths.map((p) => attrs.isSet(p, 'export-ignore', dirs.has(p)));
    assert.deepEqual(Object.fromEntries(paths.map((p, i) => [p, ours[i]])), Object.fromEntries(paths.map((p, i) => [p, theirs[i]])));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('attributes and export-subst files are read only up to a bound, past which the deploy is refused', async (t) => {
  const dir = tmpDir('toes-rev-attrs-big-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const commit = { oid: 'c'.repeat(40), content: Buffer.from(`tree ${'t'.repeat(40)}\n\nmsg\n`) };
  const src = { commit, refs: { decorations: [] }, file: (e: Entry) => path.join(dir, e.path), store: async () => {} };
  const attrs: Entry = { path: '.gitattributes', kind: 'file', oid: 'a'.repeat(40) };
  const big: Entry = { path: 'big.txt', kind: 'file', oid: 'b'.repeat(40) };
  fs.writeFileSync(path.join(dir, '.gitattributes'), '# padding\n'.repeat(MAX_ATTR_BYTES / 10 + 1));
  const err = await assertRevError(exportEntries([attrs, big], src), 'LIMIT_EXCEEDED', /\.gitattributes files of this commit add up to more than 1 MiB/);
  assert.equal(err.data.max, MAX_ATTR_BYTES);
  fs.writeFileSync(path.join(dir, '.gitattributes'), 'big.txt export-subst\n');
  fs.writeFileSync(path.join(dir, 'big.txt'), '');
  fs.truncateSync(path.join(dir, 'big.txt'), MAX_SUBST_BYTES + 1);
  await assertRevError(exportEntries([attrs, big], src), 'LIMIT_EXCEEDED', /"big\.txt", marked export-subst, holds more than 16 MiB/);
});
