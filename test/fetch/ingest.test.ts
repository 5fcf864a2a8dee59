import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { BlobStore, gitBlobId } from '../../src/fetch/blobs.js';
import { ingestDir, treeVersion } from '../../src/fetch/ingest.js';
import type { Entry } from '../../src/fetch/snapshot.js';
import { assertRevError, listFiles, listTree, tempDir } from '../fixtures/tar.js';

type T = Parameters<typeof tempDir>[0];

/** <base>/app is the app folder (filled from `files`), <base>/blobs the store. */
function setup(t: T, files: Record<string, string>): { base: string; app: string; blobsRoot: string; blobs: BlobStore } {
  const base = tempDir(t, 'toes-rev-ingest-');
  const app = path.join(base, 'app');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(app, rel)), { recursive: true });
    fs.writeFileSync(path.join(app, rel), content);
  }
  fs.mkdirSync(app, { recursive: true });
  const blobsRoot = path.join(base, 'blobs');
  return { base, app, blobsRoot, blobs: new BlobStore(blobsRoot) };
}

const paths = (entries: Entry[]): string[] => entries.map((e) => e.path);

test('a local directory: nested .gitignore files, .git and node_modules are honoured', async (t) => {
  const { app, blobs } = setup(t, {
    '.gitignore': '*.log\ndist/\n/secret.env\n',
    'package.json': '{}\n',
    'index.js': '1;\n',
    'debug.log': 'ignored\n',
    'dist/bundle.js': 'ignored\n',
    'secret.env': 'ignored (anchored at the top)\n',
    'sub/secret.env': 'kept: the top-level rule is anchored\n',
    'sub/.gitignore': 'local.txt\n!keep.log\n/only-here.txt\n',
    'sub/local.txt': 'ignored by sub/.gitignore\n',
    'sub/keep.log': 'kept: the deeper file re-includes it\n',
    'sub/other.log': 'ignored by the top-level *.log\n',
    'sub/only-here.txt': 'ignored: anchored to sub/\n',
    'sub/deeper/only-here.txt': 'kept: the anchor is sub/ itself\n',
    'sub/deeper/local.txt': 'ignored: unanchored rules apply below too\n',
    'other/local.txt': 'kept: sub/.gitignore does not reach here\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
    '.git/config': '[core]\n',
    'node_modules/left-pad/index.js': 'module.exports = 1;\n',
    'sub/node_modules/x/index.js': 'nested node_modules too\n',
  });
  const entries = await ingestDir(app, blobs, { gitignore: true, move: false });
  assert.deepEqual(paths(entries), [
    '.gitignore',
    'index.js',
    'other/local.txt',
    'package.json',
    'sub/.gitignore',
    'sub/deeper/only-here.txt',
    'sub/keep.log',
    'sub/secret.env',
  ]);
  // The source folder is read, never moved or changed.
  assert.ok(fs.existsSync(path.join(app, 'index.js')));
  assert.ok(fs.existsSync(path.join(app, 'debug.log')));
});

test('an ignored directory is not even read (a FIFO inside it is no problem)', async (t) => {
  const { app, blobs } = setup(t, { '.gitignore': 'tmp/\n', 'package.json': '{}\n' });
  fs.mkdirSync(path.join(app, 'tmp'));
  execFileSync('mkfifo', [path.join(app, 'tmp', 'fifo')]);
  fs.mkdirSync(path.join(app, 'node_modules', '.cache'), { recursive: true });
  execFileSync('mkfifo', [path.join(app, 'node_modules', '.cache', 'fifo')]);
  const entries = await ingestDir(app, blobs, { gitignore: true, move: false });
  assert.deepEqual(paths(entries), ['.gitignore', 'package.json']);
});

test('a FIFO in the app folder is UNSAFE_ENTRY and nothing is stored', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n', 'src/index.js': '1;\n' });
  execFileSync('mkfifo', [path.join(app, 'src', 'pipe')]);
  const err = await assertRevError(ingestDir(app, blobs, { gitignore: true, move: false }), 'UNSAFE_ENTRY', /"src\/pipe"/);
  assert.equal(err.data.path, 'src/pipe');
  assert.deepEqual(listFiles(blobsRoot), []);
  assert.ok(fs.existsSync(path.join(app, 'src', 'index.js')));
});

test('a unix socket in the app folder is UNSAFE_ENTRY', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n' });
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path.join(app, 'app.sock'), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await assertRevError(ingestDir(app, blobs, { gitignore: true, move: false }), 'UNSAFE_ENTRY', /socket/);
  assert.deepEqual(listFiles(blobsRoot), []);
});

test('symlinks that stay inside are kept as links, with their target text', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n', 'src/index.js': '1;\n', 'config/default.json': '{"port":3000}\n' });
  fs.symlinkSync('src', path.join(app, 'lib'));
  fs.symlinkSync('../config/default.json', path.join(app, 'src', 'config.json'));
  fs.symlinkSync('missing-but-inside', path.join(app, 'dangling'));
  const entries = await ingestDir(app, blobs, { gitignore: true, move: false });
  const links = entries.filter((e) => e.kind === 'symlink').map((e) => [e.path, e.target, e.oid]);
  assert.deepEqual(links, [
    ['dangling', 'missing-but-inside', gitBlobId(Buffer.from('missing-but-inside'))],
    ['lib', 'src', gitBlobId(Buffer.from('src'))],
    ['src/config.json', '../config/default.json', gitBlobId(Buffer.from('../config/default.json'))],
  ]);
  // The directory behind "lib" is not walked twice, and links store no blob.
  assert.deepEqual(paths(entries), ['config/default.json', 'dangling', 'lib', 'package.json', 'src/config.json', 'src/index.js']);
  assert.equal(listFiles(blobsRoot).length, 3);
});

for (const [name, target, why] of [
  ['a relative link out of the folder', '../../outside', /leading outside/],
  ['a deep relative link out of the folder', 'src/../../../etc', /leading outside/],
  ['an absolute link', '/etc/passwd', /absolute path/],
] as const) {
  test(`a symlink that leaves is UNSAFE_ENTRY: ${name}`, async (t) => {
    const { app, blobs, blobsRoot, base } = setup(t, { 'package.json': '{}\n', 'src/index.js': '1;\n' });
    fs.writeFileSync(path.join(base, 'outside'), 'secret');
    fs.symlinkSync(target, path.join(app, 'src', 'escape'));
    const err = await assertRevError(ingestDir(app, blobs, { gitignore: true, move: false }), 'UNSAFE_ENTRY', why);
    assert.equal(err.data.path, 'src/escape');
    assert.deepEqual(listFiles(blobsRoot), []);
  });
}

test('a symlink that leaves only through another link is UNSAFE_ENTRY', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n' });
  fs.symlinkSync('.', path.join(app, 'here'));
  fs.symlinkSync('here/..', path.join(app, 'up'));
  await assertRevError(ingestDir(app, blobs, { gitignore: true, move: false }), 'UNSAFE_ENTRY', /"up" is a symlink leading outside/);
  assert.deepEqual(listFiles(blobsRoot), []);
});

test('a gitignored symlink that leaves is simply skipped', async (t) => {
  const { app, blobs } = setup(t, { '.gitignore': 'escape\n', 'package.json': '{}\n' });
  fs.symlinkSync('/etc', path.join(app, 'escape'));
  assert.deepEqual(paths(await ingestDir(app, blobs, { gitignore: true, move: false })), ['.gitignore', 'package.json']);
});

test('the exec bit is kept; identical contents are stored once; the source is untouched', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n', 'a.txt': 'same\n', 'b/c.txt': 'same\n' });
  fs.writeFileSync(path.join(app, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(app, 'same-exec'), 'same\n', { mode: 0o700 });
  const entries = await ingestDir(app, blobs, { gitignore: true, move: false });
  const kinds = Object.fromEntries(entries.map((e) => [e.path, e.kind]));
  assert.deepEqual(kinds, { 'a.txt': 'file', 'b/c.txt': 'file', 'package.json': 'file', 'run.sh': 'exec', 'same-exec': 'exec' });
  const same = gitBlobId(Buffer.from('same\n'));
  assert.equal(entries.find((e) => e.path === 'a.txt')!.oid, same);
  assert.equal(entries.find((e) => e.path === 'b/c.txt')!.oid, same);
  // package.json, "same\n", "same\n" executable, run.sh.
  assert.equal(listFiles(blobsRoot).length, 4);
  assert.ok(await blobs.has(same, false));
  assert.ok(await blobs.has(same, true));
  assert.equal(fs.readFileSync(blobs.pathOf(same, false), 'utf8'), 'same\n');
  assert.equal(fs.statSync(path.join(app, 'run.sh')).mode & 0o777, 0o755);
  // Ingesting again stores nothing new and gives the same tree version.
  const again = await ingestDir(app, blobs, { gitignore: true, move: false });
  assert.equal(treeVersion(again), treeVersion(entries));
  assert.equal(listFiles(blobsRoot).length, 4);
});

test('treeVersion changes with content, mode and names', async (t) => {
  const { app, blobs } = setup(t, { 'package.json': '{}\n', 'a.txt': 'one\n' });
  const v1 = treeVersion(await ingestDir(app, blobs, { gitignore: true, move: false }));
  fs.writeFileSync(path.join(app, 'a.txt'), 'two\n');
  const v2 = treeVersion(await ingestDir(app, blobs, { gitignore: true, move: false }));
  fs.chmodSync(path.join(app, 'a.txt'), 0o755);
  const v3 = treeVersion(await ingestDir(app, blobs, { gitignore: true, move: false }));
  fs.renameSync(path.join(app, 'a.txt'), path.join(app, 'b.txt'));
  const v4 = treeVersion(await ingestDir(app, blobs, { gitignore: true, move: false }));
  assert.equal(new Set([v1, v2, v3, v4]).size, 4);
});

test('move: true adopts the files into the store (for an unpacked archive)', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n', 'x/y.txt': 'y\n' });
  const entries = await ingestDir(app, blobs, { gitignore: false, move: true });
  assert.deepEqual(paths(entries), ['package.json', 'x/y.txt']);
  assert.deepEqual(listTree(app), ['x/']);
  assert.equal(listFiles(blobsRoot).length, 2);
  assert.equal(fs.statSync(blobs.pathOf(gitBlobId(Buffer.from('y\n')), false)).mode & 0o222, 0, 'blobs are read-only');
});

test('without gitignore (an archive), a .git directory is refused, not silently kept', async (t) => {
  const { app, blobs, blobsRoot } = setup(t, { 'package.json': '{}\n', '.git/config': '[core]\n' });
  await assertRevError(ingestDir(app, blobs, { gitignore: false, move: false }), 'UNSAFE_ENTRY', /\.git/);
  assert.deepEqual(listFiles(blobsRoot), []);
});
