import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { test } from 'node:test';
import { BlobStore, gitBlobId } from '../../src/fetch/blobs.js';
import { fetchTarball } from '../../src/fetch/tarball.js';
import { isTarballUrl } from '../../src/fetch/source.js';
import type { Snapshot } from '../../src/fetch/snapshot.js';
import { git } from '../fixtures/repo.js';
import { serve } from '../fixtures/serve.js';
import { assertRevError, listFiles, listTree, makeTar, makeTarGz, noise, tempDir, type TarEntry } from '../fixtures/tar.js';

type T = Parameters<typeof tempDir>[0];

interface Env {
  base: string;
  tmpRoot: string;
  blobsRoot: string;
  blobs: BlobStore;
  /** Writes an archive next to (not inside) the tmp and blob roots; returns its path. */
  archive(name: string, bytes: Buffer): string;
}

/** A temp tree: <base>/deep/er/tmp is the tmpRoot, so ".." escapes land inside <base>. */
function setup(t: T): Env {
  const base = tempDir(t);
  const tmpRoot = path.join(base, 'deep', 'er', 'tmp');
  const blobsRoot = path.join(base, 'store', 'blobs');
  fs.mkdirSync(tmpRoot, { recursive: true });
  fs.mkdirSync(blobsRoot, { recursive: true });
  fs.mkdirSync(path.join(base, 'archives'));
  return {
    base,
    tmpRoot,
    blobsRoot,
    blobs: new BlobStore(blobsRoot),
    archive(name, bytes) {
      const p = path.join(base, 'archives', name);
      fs.writeFileSync(p, bytes);
      return p;
    },
  };
}

/** Runs `fn` and asserts nothing anywhere below <base> changed: no tmp left, no blob stored, no escape. */
async function assertLeavesNoTrace<R>(env: Env, fn: () => Promise<R>): Promise<R> {
  const before = listTree(env.base);
  const result = await fn();
  assert.deepEqual(listTree(env.tmpRoot), [], 'the unpack directory was not removed');
  assert.deepEqual(listFiles(env.blobsRoot), [], 'a refused archive put files in the blob store');
  assert.deepEqual(listTree(env.base), before, 'something was written outside the unpack directory');
  return result;
}

function entryMap(s: Snapshot): Record<string, string> {
  return Object.fromEntries(s.entries.map((e) => [e.path, e.kind === 'symlink' ? `symlink -> ${e.target}` : e.kind]));
}

const APP: TarEntry[] = [
  { path: 'package.json', content: '{"name":"app"}\n' },
  { path: 'src/', type: 'dir' },
  { path: 'src/index.js', content: 'console.log(1);\n' },
];

test('isTarballUrl recognises .tar.gz and .tgz, with or without a query', () => {
  assert.ok(isTarballUrl('https://example.com/a/b.tar.gz'));
  assert.ok(isTarballUrl('https://example.com/b.TGZ?token=x'));
  assert.ok(!isTarballUrl('https://example.com/repo.git'));
  assert.ok(!isTarballUrl('/srv/app.tar'));
});

// ---------------------------------------------------------------- broken archives

test('a truncated .tar.gz (cut mid-stream) is BAD_ARCHIVE and leaves nothing behind', async (t) => {
  const env = setup(t);
  const full = makeTarGz([...APP, { path: 'big.bin', content: noise(256 * 1024) }]);
  const file = env.archive('cut.tar.gz', full.subarray(0, Math.floor(full.length / 2)));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /ends early/));
});

test('a gzip stream that is whole but holds a truncated tar is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  const tar = makeTar([...APP, { path: 'data.txt', content: 'y'.repeat(5000) }]);
  const file = env.archive('inner-cut.tar.gz', zlib.gzipSync(tar.subarray(0, 512 * 6 + 100)));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /ends early/));
});

test('plain text is BAD_ARCHIVE (not gzip)', async (t) => {
  const env = setup(t);
  const file = env.archive('text.tar.gz', Buffer.from('<html><body>Sign in to continue</body></html>\n'));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /not gzip/));
});

test('an uncompressed tar is BAD_ARCHIVE (not gzip)', async (t) => {
  const env = setup(t);
  const file = env.archive('plain.tar.gz', makeTar(APP));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /not gzip/));
});

test('an empty file is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  const file = env.archive('empty.tar.gz', Buffer.alloc(0));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /is empty/));
});

test('gzip of something that is not tar is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  for (const [name, content] of [
    ['short', 'hello'],
    ['long', 'not a tar header '.repeat(200)],
  ] as const) {
    const file = env.archive(`${name}.tar.gz`, zlib.gzipSync(Buffer.from(content)));
    await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /not a tar archive/));
  }
});

test('an archive with no entries at all is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  const file = env.archive('none.tar.gz', makeTarGz([]));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /no files/));
});

test('trailing garbage after the gzip stream is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  const file = env.archive('garbage.tar.gz', Buffer.concat([makeTarGz(APP), Buffer.from('garbage after the end')]));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE'));
});

test('an oversized pax header (which tar would skip, entry and all) is BAD_ARCHIVE', async (t) => {
  const env = setup(t);
  const file = env.archive('pax.tar.gz', makeTarGz([...APP, { path: 'hidden.js', content: 'x', pax: { comment: 'c'.repeat(1024 * 1024 + 10) } }]));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /extended header/));
});

test('a missing local archive is NO_SOURCE; a directory is NO_SOURCE', async (t) => {
  const env = setup(t);
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(path.join(env.base, 'nope.tar.gz'), { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'NO_SOURCE'));
  fs.mkdirSync(path.join(env.base, 'dir.tar.gz'));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(path.join(env.base, 'dir.tar.gz'), { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'NO_SOURCE'));
});

// ---------------------------------------------------------------- hostile archives

interface Hostile {
  name: string;
  entries: (env: Env) => TarEntry[];
  match?: RegExp;
}

const HOSTILE: Hostile[] = [
  { name: '../x', entries: () => [{ path: '../x', content: 'pwned' }], match: /"\.\.\/x"/ },
  { name: 'a/../../x', entries: () => [{ path: 'a/../../x', content: 'pwned' }], match: /"a\/\.\.\/\.\.\/x"/ },
  { name: '../../x deeper', entries: () => [{ path: 'src/../../../x', content: 'pwned' }] },
  { name: 'absolute path', entries: (env) => [{ path: path.join(env.base, 'abs-sentinel'), content: 'pwned' }], match: /absolute/ },
  { name: 'absolute directory', entries: (env) => [{ path: `${env.base}/abs-dir/`, type: 'dir' }], match: /absolute/ },
  { name: 'the root "/" itself', entries: () => [{ path: '/', type: 'dir' }], match: /absolute/ },
  { name: 'symlink -> ../../etc', entries: () => [{ path: 'link', type: 'symlink', linkpath: '../../etc' }], match: /symlink leading outside/ },
  { name: 'symlink -> /etc/passwd', entries: () => [{ path: 'link', type: 'symlink', linkpath: '/etc/passwd' }], match: /absolute path/ },
  { name: 'nested symlink -> ../..', entries: () => [{ path: 'src/up', type: 'symlink', linkpath: '../..' }], match: /leading outside/ },
  { name: 'hard link to ../ (outside)', entries: () => [{ path: 'h', type: 'hardlink', linkpath: '../../../../victim.txt' }], match: /hard link/ },
  { name: 'hard link to an absolute path', entries: (env) => [{ path: 'h', type: 'hardlink', linkpath: path.join(env.base, 'victim.txt') }], match: /hard link/ },
  { name: 'hard link to a name not in the archive', entries: () => [{ path: 'h', type: 'hardlink', linkpath: 'victim.txt' }], match: /not a regular file earlier/ },
  { name: 'character device', entries: () => [{ path: 'dev/null', type: 'char' }], match: /character device/ },
  { name: 'block device', entries: () => [{ path: 'sda', type: 'block' }], match: /block device/ },
  { name: 'FIFO', entries: () => [{ path: 'pipe', type: 'fifo' }], match: /FIFO/ },
  { name: 'unsupported type (sparse file)', entries: () => [{ path: 'sparse', typeflag: 'S', content: 'x' }], match: /unsupported/ },
  { name: 'unknown typeflag', entries: () => [{ path: 'weird', typeflag: 'Z' }], match: /unsupported/ },
  { name: 'symlink a -> .. then a/x', entries: () => [{ path: 'a', type: 'symlink', linkpath: '..' }, { path: 'a/x', content: 'pwned' }], match: /"a"/ },
  { name: 'symlink a -> . then a/x', entries: () => [{ path: 'a', type: 'symlink', linkpath: '.' }, { path: 'a/x', content: 'pwned' }], match: /below the symlink "a"/ },
  { name: 'symlink a -> src then a/x', entries: () => [{ path: 'a', type: 'symlink', linkpath: 'src' }, { path: 'a/x', content: 'x' }], match: /below the symlink "a"/ },
  { name: 'symlink a -> src then directory a/d', entries: () => [{ path: 'a', type: 'symlink', linkpath: 'src' }, { path: 'a/d/', type: 'dir' }], match: /below the symlink/ },
  {
    name: 'chain a -> ., b -> a/.. (escapes only through a), then b/x',
    entries: () => [{ path: 'a', type: 'symlink', linkpath: '.' }, { path: 'b', type: 'symlink', linkpath: 'a/..' }, { path: 'b/x', content: 'pwned' }],
    match: /"b" is a symlink leading outside/,
  },
  {
    name: 'chain in the "wrong" order: b -> a/.. before a -> .',
    entries: () => [{ path: 'b', type: 'symlink', linkpath: 'a/..' }, { path: 'a', type: 'symlink', linkpath: '.' }],
    match: /leading outside/,
  },
  { name: 'hard link to a symlink', entries: () => [{ path: 'src/s', type: 'symlink', linkpath: '..' }, { path: 'h', type: 'hardlink', linkpath: 'src/s' }], match: /not a regular file/ },
  { name: 'pax header smuggles ../x as the path', entries: () => [{ path: 'innocent.txt', content: 'pwned', pax: { path: '../x' } }], match: /"\.\.\/x"/ },
  {
    name: 'pax header smuggles an absolute symlink target',
    entries: () => [{ path: 'link', type: 'symlink', linkpath: 'src', pax: { linkpath: '/etc/passwd' } }],
    match: /absolute path/,
  },
  { name: 'the same file twice', entries: () => [{ path: 'twice', content: 'a' }, { path: 'twice', content: 'b' }], match: /appears twice/ },
  { name: 'a file replaced by a symlink', entries: () => [{ path: 'f', content: 'a' }, { path: 'f', type: 'symlink', linkpath: 'src' }], match: /appears twice/ },
  { name: 'an entry inside .git', entries: () => [{ path: '.git/hooks/post-checkout', content: '#!/bin/sh\n', mode: 0o755 }], match: /\.git/ },
  { name: 'a backslash path', entries: () => [{ path: '..\\..\\x', content: 'pwned' }], match: /backslash/ },
];

for (const h of HOSTILE) {
  test(`hostile archive refused with UNSAFE_ENTRY: ${h.name}`, async (t) => {
    const env = setup(t);
    const victim = path.join(env.base, 'victim.txt');
    fs.writeFileSync(victim, 'original');
    // Benign entries first, so a partial tree would exist if the refusal came late.
    const file = env.archive('hostile.tar.gz', makeTarGz([...APP, ...h.entries(env)]));
    await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNSAFE_ENTRY', h.match));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'original');
    assert.equal(fs.statSync(victim).nlink, 1, 'a hard link to a file outside was created');
    for (const sentinel of ['x', 'deep/x', 'deep/er/x', 'deep/er/tmp/x', 'abs-sentinel', 'abs-dir']) {
      assert.ok(!fs.existsSync(path.join(env.base, sentinel)), `${sentinel} was written outside the unpack directory`);
    }
  });
}

test('a refusal after a large file waits for the write in flight, then cleans up', async (t) => {
  const env = setup(t);
  const big = Buffer.alloc(8 * 1024 * 1024, 'abcdefgh');
  const file = env.archive('late.tar.gz', makeTarGz([...APP, { path: 'big.bin', content: big }, { path: '../x', content: 'pwned' }]));
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNSAFE_ENTRY'));
  // Nothing still writing into the (removed) unpack directory a moment later.
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(listTree(env.tmpRoot), []);
});

test('a refused archive leaves an already populated blob store exactly as it was', async (t) => {
  const env = setup(t);
  const ok = env.archive('ok.tar.gz', makeTarGz(APP));
  await fetchTarball(ok, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  const stored = listFiles(env.blobsRoot);
  assert.equal(stored.length, 2);
  const bad = env.archive('bad.tar.gz', makeTarGz([{ path: 'new.txt', content: 'brand new content' }, { path: 'fifo', type: 'fifo' }]));
  await assertRevError(fetchTarball(bad, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNSAFE_ENTRY');
  assert.deepEqual(listFiles(env.blobsRoot), stored);
  assert.deepEqual(listTree(env.tmpRoot), []);
});

// ---------------------------------------------------------------- accepted archives

test('an in-tree symlink (lib -> src) is accepted and kept', async (t) => {
  const env = setup(t);
  const file = env.archive('links.tar.gz', makeTarGz([...APP, { path: 'lib', type: 'symlink', linkpath: 'src' }, { path: 'src/self', type: 'symlink', linkpath: '../src/index.js' }, { path: 'here', type: 'symlink', linkpath: '.' }]));
  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.deepEqual(entryMap(snap), {
    'here': 'symlink -> .',
    'lib': 'symlink -> src',
    'package.json': 'file',
    'src/index.js': 'file',
    'src/self': 'symlink -> ../src/index.js',
  });
  assert.equal(snap.entries.find((e) => e.path === 'lib')!.oid, gitBlobId(Buffer.from('src')));
  assert.deepEqual(listTree(env.tmpRoot), []);
});

test('a hard link inside the archive becomes a second file with the same content', async (t) => {
  const env = setup(t);
  const file = env.archive('hard.tar.gz', makeTarGz([...APP, { path: 'copy.js', type: 'hardlink', linkpath: 'src/index.js' }]));
  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  const byPath = new Map(snap.entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('copy.js')!.kind, 'file');
  assert.equal(byPath.get('copy.js')!.oid, byPath.get('src/index.js')!.oid);
  assert.equal(listFiles(env.blobsRoot).length, 2);
});

test('GitHub-style archive: the single top folder and the pax global header are stripped', async (t) => {
  const env = setup(t);
  const file = env.archive(
    'gh.tar.gz',
    makeTarGz(
      [
        { path: 'owner-repo-abc1234/', type: 'dir' },
        ...APP.map((e) => ({ ...e, path: `owner-repo-abc1234/${e.path}` })),
        { path: 'owner-repo-abc1234/bin/', type: 'dir' },
        { path: 'owner-repo-abc1234/bin/start', content: '#!/bin/sh\nexec node src/index.js\n', mode: 0o755 },
        { path: 'owner-repo-abc1234/lib', type: 'symlink', linkpath: 'src' },
      ],
      { globalPax: { comment: 'abc1234abc1234abc1234abc1234abc1234abc12' } },
    ),
  );
  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.equal(snap.kind, 'tarball');
  assert.deepEqual(entryMap(snap), {
    'bin/start': 'exec',
    'lib': 'symlink -> src',
    'package.json': 'file',
    'src/index.js': 'file',
  });
});

test('"./"-prefixed archives (tar -C dir .) are read as the directory itself', async (t) => {
  const env = setup(t);
  const src = path.join(env.base, 'app');
  fs.mkdirSync(path.join(src, 'src'), { recursive: true });
  fs.writeFileSync(path.join(src, 'package.json'), '{}\n');
  fs.writeFileSync(path.join(src, 'src', 'index.js'), '1;\n');
  const file = path.join(env.base, 'archives', 'dot.tar.gz');
  execFileSync('tar', ['-czf', file, '-C', src, '.']);
  const before = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
  assert.match(before, /^\.\/$/m);
  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.deepEqual(entryMap(snap), { 'package.json': 'file', 'src/index.js': 'file' });
});

test('no stripping when the top level holds more than one entry, or a single file', async (t) => {
  const env = setup(t);
  const two = env.archive('two.tar.gz', makeTarGz([{ path: 'a/one.txt', content: '1' }, { path: 'b/two.txt', content: '2' }]));
  assert.deepEqual(entryMap(await fetchTarball(two, { tmpRoot: env.tmpRoot, blobs: env.blobs })), { 'a/one.txt': 'file', 'b/two.txt': 'file' });
  const one = env.archive('one.tar.gz', makeTarGz([{ path: 'only.txt', content: '1' }]));
  assert.deepEqual(entryMap(await fetchTarball(one, { tmpRoot: env.tmpRoot, blobs: env.blobs })), { 'only.txt': 'file' });
});

test('a real `git archive --format=tar.gz --prefix=repo-abc/` is stripped, keeps the exec bit and symlinks', async (t) => {
  const env = setup(t);
  const work = path.join(env.base, 'repo');
  fs.mkdirSync(path.join(work, 'src'), { recursive: true });
  fs.mkdirSync(path.join(work, 'bin'));
  git(work, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(work, 'package.json'), '{"name":"app","version":"1.0.0"}\n');
  fs.writeFileSync(path.join(work, 'src', 'index.js'), 'export default 1;\n');
  fs.writeFileSync(path.join(work, 'src', 'same.txt'), 'same\n');
  fs.writeFileSync(path.join(work, 'same-too.txt'), 'same\n');
  fs.writeFileSync(path.join(work, 'bin', 'start'), '#!/bin/sh\necho start\n', { mode: 0o755 });
  fs.symlinkSync('src', path.join(work, 'lib'));
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'initial');
  const commit = git(work, 'rev-parse', 'HEAD');
  const file = path.join(env.base, 'archives', 'repo-abc.tar.gz');
  git(work, 'archive', '--format=tar.gz', '--prefix=repo-abc/', '-o', file, 'HEAD');

  // The archive really has git's pax global header carrying the commit id.
  const raw = zlib.gunzipSync(fs.readFileSync(file));
  assert.equal(String.fromCharCode(raw[156]), 'g');
  assert.ok(raw.subarray(512, 1024).toString('latin1').includes(`comment=${commit}`));

  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.deepEqual(entryMap(snap), {
    'bin/start': 'exec',
    'lib': 'symlink -> src',
    'package.json': 'file',
    'same-too.txt': 'file',
    'src/index.js': 'file',
    'src/same.txt': 'file',
  });
  assert.deepEqual(
    snap.entries.map((e) => e.path),
    [...snap.entries.map((e) => e.path)].sort(),
  );
  // Entries carry git blob ids: the same ids git itself has for this tree.
  const lsTree = git(work, 'ls-tree', '-r', 'HEAD');
  for (const line of lsTree.split('\n')) {
    const [meta, p] = line.split('\t');
    const [, , oid] = meta.split(' ');
    assert.equal(snap.entries.find((e) => e.path === p)?.oid, oid, p);
  }
  assert.equal(snap.version, createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  // Blobs: package.json, index.js, "same\n" once, bin/start as an executable blob.
  assert.equal(listFiles(env.blobsRoot).length, 4);
  const start = snap.entries.find((e) => e.path === 'bin/start')!;
  assert.ok(fs.statSync(env.blobs.pathOf(start.oid, true)).mode & 0o111);
  assert.deepEqual(listTree(env.tmpRoot), []);
});

test('the version is the sha256 of the archive bytes; identical archives agree; contents are stored once', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'a.txt', content: 'twin\n' }, { path: 'deep/b.txt', content: 'twin\n' }, { path: 'deep/x', content: 'twin\n', mode: 0o755 }]);
  const one = env.archive('one.tar.gz', bytes);
  const two = env.archive('two.tgz', bytes);
  const s1 = await fetchTarball(one, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.equal(s1.version, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(s1.bytesFetched, bytes.length);
  const stored = listFiles(env.blobsRoot);
  // package.json, index.js, "twin\n" as a plain file, "twin\n" as an executable.
  assert.equal(stored.length, 4);
  const s2 = await fetchTarball(pathToFileURL(two).href, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.equal(s2.version, s1.version);
  assert.deepEqual(s2.entries, s1.entries);
  assert.deepEqual(listFiles(env.blobsRoot), stored);
  // A different archive of the same tree is a different version (it is keyed on the bytes).
  const three = env.archive('three.tar.gz', zlib.gzipSync(zlib.gunzipSync(bytes), { level: 1 }));
  const s3 = await fetchTarball(three, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.notEqual(s3.version, s1.version);
  assert.deepEqual(s3.entries, s1.entries);
  assert.deepEqual(listFiles(env.blobsRoot), stored);
});

test('long names (pax path records) are unpacked under their full name', async (t) => {
  const env = setup(t);
  const long = `src/${'n'.repeat(150)}.js`;
  const file = env.archive('long.tar.gz', makeTarGz([...APP, { path: long, content: 'long\n', pax: { path: long } }]));
  const snap = await fetchTarball(file, { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.ok(snap.entries.some((e) => e.path === long));
});

// ---------------------------------------------------------------- over HTTP

test('a tarball over HTTP gives the same snapshot as the same bytes on disk', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([{ path: 'app-1.0/', type: 'dir' }, ...APP.map((e) => ({ ...e, path: `app-1.0/${e.path}` }))]);
  let auth: string | undefined;
  const base = await serve(t, (req, res) => {
    auth = req.headers.authorization;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': bytes.length });
    res.end(bytes);
  });
  const progress: number[] = [];
  const snap = await fetchTarball(`${base}/app.tar.gz`, {
    tmpRoot: env.tmpRoot,
    blobs: env.blobs,
    token: 's3cret',
    onProgress: (p) => progress.push(p.loaded),
  });
  assert.equal(snap.version, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(snap.bytesFetched, bytes.length);
  assert.deepEqual(entryMap(snap), { 'package.json': 'file', 'src/index.js': 'file' });
  assert.equal(auth, 'Basic ' + Buffer.from('x-access-token:s3cret').toString('base64'));
  assert.equal(progress.at(-1), bytes.length);
  const local = await fetchTarball(env.archive('same.tar.gz', bytes), { tmpRoot: env.tmpRoot, blobs: env.blobs });
  assert.deepEqual(local.entries, snap.entries);
  assert.equal(local.version, snap.version);
  assert.deepEqual(listTree(env.tmpRoot), []);
});

for (const [status, code] of [
  [404, 'REF_NOT_FOUND'],
  [401, 'AUTH'],
  [403, 'AUTH'],
  [500, 'UNREACHABLE'],
] as const) {
  test(`HTTP ${status} is ${code}`, async (t) => {
    const env = setup(t);
    const base = await serve(t, (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('no');
    });
    const err = await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs, token: 'tok-123' }), code));
    assert.ok(!err.message.includes('tok-123'));
  });
}

for (const framing of ['Content-Length', 'end of connection'] as const) {
  test(`a server that closes the connection after the body (${framing}) works and does not crash the process`, async (t) => {
    // undici 7 asserts (uncatchably) when the socket ends while the body is paused by
    // backpressure (nodejs/undici#5360); an unpacker slower than loopback pauses it every time.
    const env = setup(t);
    const entries: TarEntry[] = [];
    for (let i = 0; i < 300; i++) entries.push({ path: `d${i % 10}/f${i}.bin`, content: noise(8 * 1024, `f${i}`) });
    const bytes = makeTarGz(entries);
    const server = net.createServer((sock) => {
      sock.once('data', () => {
        const length = framing === 'Content-Length' ? `Content-Length: ${bytes.length}\r\n` : '';
        sock.write(`HTTP/1.1 200 OK\r\n${length}Connection: close\r\n\r\n`);
        sock.end(bytes);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app.tar.gz`;
    for (let i = 0; i < 3; i++) {
      const snap = await fetchTarball(url, { tmpRoot: env.tmpRoot, blobs: env.blobs });
      assert.equal(snap.entries.length, 300);
      assert.equal(snap.bytesFetched, bytes.length);
    }
    assert.deepEqual(listTree(env.tmpRoot), []);
  });
}

test('a connection dropped mid-body (Content-Length announced) is UNREACHABLE', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'big.bin', content: noise(512 * 1024) }]);
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNREACHABLE', /broke off|ended before/));
});

test('a chunked body cut off mid-stream is UNREACHABLE', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'big.bin', content: noise(512 * 1024) }]);
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' }); // no length: chunked
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNREACHABLE'));
});

test('a close-delimited body that ends early is BAD_ARCHIVE (the bytes are a truncated archive)', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'big.bin', content: noise(512 * 1024) }]);
  const base = await serve(t, (req, res) => {
    // HTTP/1.0-style: no length, no chunking, the end of the body is the end of the connection.
    req.socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n`);
    req.socket.end(bytes.subarray(0, Math.floor(bytes.length / 2)));
  });
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'BAD_ARCHIVE', /ends early/));
});

test('a server that stalls mid-body is UNREACHABLE after the timeout', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'big.bin', content: noise(256 * 1024) }]);
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, 1000)); // ...and nothing more
  });
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs, timeoutMs: 300 }), 'UNREACHABLE', /stalled/));
});

test('a hostile entry early in a slow download is refused at once, without waiting for the rest', async (t) => {
  const env = setup(t);
  const head = makeTar([{ path: '../x', content: 'pwned' }], { noTrailer: true });
  let hungUp: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (hungUp = resolve));
  const base = await serve(t, (_req, res) => {
    res.on('close', () => hungUp());
    res.writeHead(200, { 'content-type': 'application/gzip' });
    const gz = zlib.createGzip();
    gz.pipe(res);
    gz.write(head);
    gz.flush(); // the hostile header reaches the client; the body never ends
  });
  const started = Date.now();
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs, timeoutMs: 20_000 }), 'UNSAFE_ENTRY'));
  assert.ok(Date.now() - started < 5000, 'the refusal waited for the download');
  // ...and the client hangs up instead of leaving the download open until it times out.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), 5000)));
  assert.equal(await Promise.race([closed.then(() => 'closed'), timeout]), 'closed');
  clearTimeout(timer);
});

test('the archive is streamed: files are on disk before the download has finished', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([{ path: 'first.bin', content: noise(2 * 1024 * 1024, 'first') }, { path: 'second.bin', content: noise(2 * 1024 * 1024 + 7, 'second') }, ...APP]);
  let seenEarly = false;
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, Math.floor(bytes.length * 0.4)));
    // Hold the rest back until first.bin shows up in the unpack directory (or give up after 10 s).
    const deadline = Date.now() + 10_000;
    const poll = (): void => {
      const dirs = fs.existsSync(env.tmpRoot) ? fs.readdirSync(env.tmpRoot) : [];
      seenEarly = dirs.some((d) => {
        const p = path.join(env.tmpRoot, d, 'first.bin');
        return fs.existsSync(p) && fs.statSync(p).size > 0;
      });
      if (seenEarly || Date.now() > deadline) res.end(bytes.subarray(Math.floor(bytes.length * 0.4)));
      else setTimeout(poll, 10);
    };
    poll();
  });
  const snap = await fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs, timeoutMs: 20_000 });
  assert.ok(seenEarly, 'nothing was unpacked until the whole body had arrived: the archive is buffered, not streamed');
  assert.equal(snap.entries.length, 4);
  assert.equal(snap.bytesFetched, bytes.length);
});

test('a hostile archive over HTTP leaves nothing behind either', async (t) => {
  const env = setup(t);
  const bytes = makeTarGz([...APP, { path: 'a', type: 'symlink', linkpath: '.' }, { path: 'a/x', content: 'pwned' }]);
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.end(bytes);
  });
  await assertLeavesNoTrace(env, () => assertRevError(fetchTarball(`${base}/app.tar.gz`, { tmpRoot: env.tmpRoot, blobs: env.blobs }), 'UNSAFE_ENTRY'));
});

// ---------------------------------------------------------------- under Bun

test('under Bun (what a Toes server runs) the tarball source works and fails the same way', async (t) => {
  const env = setup(t);
  const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const bun = path.join(projectRoot, 'node_modules/.bin/bun');
  const good = makeTarGz([{ path: 'app-1/', type: 'dir' }, ...APP.map((e) => ({ ...e, path: `app-1/${e.path}` })), { path: 'app-1/data.bin', content: noise(300 * 1024) }]);
  const hostile = makeTarGz([...APP, { path: 'a', type: 'symlink', linkpath: '.' }, { path: 'a/x', content: 'pwned' }]);
  const base = await serve(t, (req, res) => {
    if (req.url === '/missing.tar.gz') {
      res.writeHead(404);
      res.end('no');
    } else if (req.url === '/locked.tar.gz') {
      res.writeHead(401);
      res.end('no');
    } else if (req.url === '/hostile.tar.gz') {
      res.writeHead(200, { 'content-length': hostile.length });
      res.end(hostile);
    } else if (req.url === '/drop.tar.gz') {
      res.writeHead(200, { 'content-length': good.length });
      res.write(good.subarray(0, good.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
    } else {
      res.writeHead(200, { 'content-length': good.length, connection: 'close' });
      res.end(good);
    }
  });
  const script = path.join(env.base, 'under-bun.mjs');
  const mod = (rel: string): string => JSON.stringify(pathToFileURL(path.join(projectRoot, 'dist', rel)).href);
  fs.writeFileSync(
    script,
    `import { fetchTarball } from ${mod('src/fetch/tarball.js')};
import { BlobStore } from ${mod('src/fetch/blobs.js')};
const [base, tmpRoot, blobsRoot] = process.argv.slice(2);
const blobs = new BlobStore(blobsRoot);
const out = {};
for (const name of ['app', 'missing', 'locked', 'hostile', 'drop']) {
  try {
    const s = await fetchTarball(base + '/' + name + '.tar.gz', { tmpRoot, blobs });
    out[name] = { version: s.version, paths: s.entries.map((e) => e.path), bytes: s.bytesFetched };
  } catch (err) {
    out[name] = { code: err.code ?? String(err) };
  }
}
console.log(JSON.stringify(out));
`,
  );
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(bun, [script, base, env.tmpRoot, env.blobsRoot], { timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
  );
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(out.app, { version: createHash('sha256').update(good).digest('hex'), paths: ['data.bin', 'package.json', 'src/index.js'], bytes: good.length });
  assert.deepEqual(out.missing, { code: 'REF_NOT_FOUND' });
  assert.deepEqual(out.locked, { code: 'AUTH' });
  assert.deepEqual(out.hostile, { code: 'UNSAFE_ENTRY' });
  assert.deepEqual(out.drop, { code: 'UNREACHABLE' });
  assert.deepEqual(listTree(env.tmpRoot), []);
  assert.equal(listFiles(env.blobsRoot).length, 3);
});
