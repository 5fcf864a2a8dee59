// Sources that would make a deploy hold, write or wait for too much: each is refused with
// LIMIT_EXCEEDED naming the limit and the setting that raises it, before anything is
// published and without holding the whole thing in memory. Small limits keep them fast.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test, type TestContext } from 'node:test';
import { BlobStore } from '../../src/fetch/blobs.js';
import { fetchSnapshot, probeSource, type FetchContext } from '../../src/fetch/index.js';
import { DEFAULT_LIMITS, type SourceLimits } from '../../src/fetch/limits.js';
import { parseSource } from '../../src/fetch/source.js';
import { parseConfigValue, resolveSettings } from '../../src/releases/settings/schema.js';
import { tmpDir } from '../fixtures/cli.js';
import { startGitServer } from '../fixtures/git-server.js';
import { git, makeRepo } from '../fixtures/repo.js';
import { serve } from '../fixtures/serve.js';
import { assertOneSentence, assertRevError, makeTar, tarHeader } from '../fixtures/tar.js';

function context(t: TestContext, limits: Partial<SourceLimits>): FetchContext {
  const store = tmpDir('toes-rev-limits-');
  t.after(() => fs.rmSync(store, { recursive: true, force: true }));
  return { storeRoot: store, owner: 'app', tmpRoot: path.join(store, 'tmp'), blobs: new BlobStore(path.join(store, 'blobs')), limits };
}

async function deployFrom(url: string, ctx: FetchContext) {
  const src = parseSource(url);
  return fetchSnapshot(src, await probeSource(src, undefined, ctx), ctx);
}

async function refused(t: TestContext, promise: Promise<unknown>, setting: string, ctx: FetchContext) {
  const err = await assertRevError(promise, 'LIMIT_EXCEEDED', new RegExp(`the ${setting.replace('.', '\\.')} limit`));
  assertOneSentence(err.message);
  assert.match(err.message, new RegExp(`toes config set <app> ${setting.replace('.', '\\.')} N`));
  assert.equal(err.data.limit, setting);
  // Nothing reached the blob store.
  const blobs = fs.existsSync(ctx.blobs.root) ? fs.readdirSync(ctx.blobs.root).filter((n) => !n.startsWith('.')) : [];
  assert.deepEqual(blobs, [], 'no contents were stored');
  return err;
}

/** A served repository whose tree is built by hand (`git mktree`), as a hostile host could. */
async function servedTree(t: TestContext, build: (bare: string) => string): Promise<string> {
  const root = tmpDir('toes-rev-hostile-');
  const repo = makeRepo(root, 'app.git', { 'package.json': '{"name":"app"}\n' });
  const server = await startGitServer(root);
  t.after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const tree = build(repo.bare);
  const commit = git(repo.bare, 'commit-tree', tree, '-m', 'hostile');
  git(repo.bare, 'update-ref', 'refs/heads/main', commit);
  return server.repoUrl('app.git');
}

function mktree(bare: string, lines: string[]): string {
  return execFileSync('git', ['mktree'], { cwd: bare, input: lines.join('\n') + '\n', encoding: 'utf8' }).trim();
}

test('a git tree bomb (2^30 paths in a few KB) is refused at the entry limit, not walked', async (t) => {
  const url = await servedTree(t, (bare) => {
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: bare, input: 'x' }).toString().trim();
    let tree = mktree(bare, [`100644 blob ${blob}\tf`]);
    for (let i = 0; i < 30; i++) tree = mktree(bare, [`040000 tree ${tree}\ta`, `040000 tree ${tree}\tb`]);
    const pkg = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: bare, input: '{"name":"app"}\n' }).toString().trim();
    return mktree(bare, [`040000 tree ${tree}\tbomb`, `100644 blob ${pkg}\tpackage.json`]);
  });
  const ctx = context(t, { entries: 5_000, depth: 64 });
  await refused(t, deployFrom(url, ctx), 'limit.entries', ctx);
});

test('a tree nested deeper than limit.depth is refused', async (t) => {
  const url = await servedTree(t, (bare) => {
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: bare, input: '{"name":"app"}\n' }).toString().trim();
    let tree = mktree(bare, [`100644 blob ${blob}\tdeep.json`]);
    for (let i = 0; i < 12; i++) tree = mktree(bare, [`040000 tree ${tree}\td`]);
    return mktree(bare, [`040000 tree ${tree}\td`, `100644 blob ${blob}\tpackage.json`]);
  });
  const ctx = context(t, { depth: 8 });
  await refused(t, deployFrom(url, ctx), 'limit.depth', ctx);
});

test('a file over limit.file in a git pack is refused from its header, before it is inflated', async (t) => {
  const root = tmpDir('toes-rev-big-');
  makeRepo(root, 'app.git', { 'package.json': '{"name":"app"}\n', 'zeros.bin': '\0'.repeat(3 * 1024 * 1024) });
  const server = await startGitServer(root);
  t.after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const ctx = context(t, { fileBytes: 1024 * 1024 });
  const err = await refused(t, deployFrom(server.repoUrl('app.git'), ctx), 'limit.file', ctx);
  assert.match(err.message, /larger than 1 MiB/);
});

test('a ref list that never ends is cut at limit.refs', async (t) => {
  let sent = 0;
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement' });
    const line = `003f${'a'.repeat(40)} refs/heads/x${'0'.repeat(9)}\n`;
    const chunk = line.repeat(1000);
    const pump = () => {
      while (!res.destroyed && sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed && sent < 64 * 1024 * 1024) res.once('drain', pump);
    };
    res.on('close', () => (sent = Infinity));
    pump();
  });
  const ctx = context(t, { refsBytes: 256 * 1024 });
  await refused(t, deployFrom(`${base}/app.git`, ctx), 'limit.refs', ctx);
});

test('a server trickling a byte at a time is cut off at limit.download, whatever its pace', async (t) => {
  const gz = zlib.gzipSync(makeTar([{ path: 'package.json', content: '{}' }]));
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' });
    // A real archive, each byte well inside the between-chunks timeout: only a deadline ends it.
    let i = 0;
    const timer = setInterval(() => (i < gz.length ? res.write(gz.subarray(i, ++i)) : undefined), 100);
    res.on('close', () => clearInterval(timer));
  });
  const ctx = context(t, { downloadSeconds: 1 });
  await refused(t, deployFrom(`${base}/app.tar.gz`, ctx), 'limit.download', ctx);
});

function archive(t: TestContext, tar: Buffer): string {
  const dir = tmpDir('toes-rev-tgz-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'app.tar.gz');
  fs.writeFileSync(file, zlib.gzipSync(tar));
  return file;
}

test('a 2.2 GB tar entry is refused by its header under the default limits, not as a bug', async (t) => {
  const header = tarHeader({ path: 'huge.bin', typeflag: '0', size: 2_200_000_000 });
  const tar = Buffer.concat([makeTar([{ path: 'package.json', content: '{"name":"app"}\n' }], { noTrailer: true }), header, Buffer.alloc(512 * 8)]);
  const ctx = context(t, {});
  const err = await refused(t, deployFrom(archive(t, tar), ctx), 'limit.file', ctx);
  assert.match(err.message, /"huge\.bin" is larger than 512 MiB/);
});

test('an archive with more entries than limit.entries, or more bytes than limit.snapshot, is refused', async (t) => {
  const many = makeTar([{ path: 'package.json', content: '{}' }, ...Array.from({ length: 40 }, (_, i) => ({ path: `f${i}.txt`, content: 'x' }))]);
  const ctx1 = context(t, { entries: 20 });
  await refused(t, deployFrom(archive(t, many), ctx1), 'limit.entries', ctx1);
  const big = makeTar([{ path: 'package.json', content: '{}' }, ...Array.from({ length: 4 }, (_, i) => ({ path: `f${i}.bin`, content: Buffer.alloc(300 * 1024, i) }))]);
  const ctx2 = context(t, { snapshotBytes: 1024 * 1024 });
  await refused(t, deployFrom(archive(t, big), ctx2), 'limit.snapshot', ctx2);
});

test('a local directory over limit.entries is refused too', async (t) => {
  const dir = tmpDir('toes-rev-dir-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), '{}');
  for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x');
  const ctx = context(t, { entries: 10 });
  await refused(t, deployFrom(`dir:${dir}`, ctx), 'limit.entries', ctx);
});

test('limits are settings: sizes take K, M, G suffixes, and unset ones take the defaults', () => {
  assert.equal(parseConfigValue('limit.snapshot', '500M'), 500 * 1024 * 1024);
  assert.equal(parseConfigValue('limit.file', '2G'), 2 * 1024 ** 3);
  assert.equal(parseConfigValue('limit.refs', '1048576'), 1048576);
  assert.equal(parseConfigValue('limit.entries', '250,000'), 250_000);
  assert.throws(() => parseConfigValue('limit.file', 'lots'), /use a size such as 500M/);
  const s = resolveSettings({ 'limit.file': 1024, 'limit.depth': 'deep' });
  assert.deepEqual(s.limits, { ...DEFAULT_LIMITS, fileBytes: 1024 });
});
