// The smart-HTTP git client against a real `git http-backend`: snapshots match what git
// itself says the tree is, later fetches take only what is new, and damaged or foreign
// answers are refused with a clear error and leave the store as it was.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isRevError } from '../../src/errors.js';
import { BlobStore } from '../../src/fetch/blobs.js';
import { fetchGit, gitStoreDir, resolveGitRef } from '../../src/fetch/git-remote.js';
import { indexPack } from '../../src/fetch/pack-file.js';
import { applyDelta, PackError, PackLimitError } from '../../src/fetch/pack.js';
import { deflateSync as zlibDeflate } from 'node:zlib';
import { contentFile, type Snapshot } from '../../src/fetch/snapshot.js';
import { startGitServer } from '../fixtures/git-server.js';
import { tmpDir } from '../fixtures/cli.js';
import { git, makeRepo } from '../fixtures/repo.js';

async function setup(t: TestContext, files: Record<string, string>) {
  const root = tmpDir('toes-rev-src-');
  const store = tmpDir('toes-rev-store-');
  const repo = makeRepo(root, 'app.git', files);
  const server = await startGitServer(root);
  t.after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(store, { recursive: true, force: true });
  });
  const blobs = new BlobStore(path.join(store, 'blobs'));
  const url = server.repoUrl('app.git');
  const fetch = async (ref?: string): Promise<Snapshot> => {
    const target = await resolveGitRef(url, ref, {});
    return fetchGit(url, target, { storeRoot: store, owner: 'app', tmpRoot: path.join(store, 'tmp'), blobs: new BlobStore(blobs.root) });
  };
  return { repo, server, store, blobs, url, fetch };
}

/** What git says the tree of HEAD is: path → [mode, oid]. */
function lsTree(work: string, rev = 'HEAD'): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const line of git(work, 'ls-tree', '-r', rev).split('\n').filter(Boolean)) {
    const [meta, p] = line.split('\t');
    const [mode, , oid] = meta.split(' ');
    out.set(p, [mode, oid]);
  }
  return out;
}

function assertMatchesGit(snap: Snapshot, work: string, blobs: BlobStore): void {
  const want = lsTree(work);
  assert.equal(snap.entries.length, want.size);
  for (const e of snap.entries) {
    const [mode, oid] = want.get(e.path)!;
    assert.equal(e.oid, oid, e.path);
    assert.equal(e.kind, mode === '120000' ? 'symlink' : mode === '100755' ? 'exec' : 'file', e.path);
    const expected = execFileSync('git', ['cat-file', 'blob', oid], { cwd: work });
    if (e.kind === 'symlink') assert.equal(e.target, expected.toString());
    else {
      const content = fs.readFileSync(contentFile(snap, e, (oid, exec) => blobs.pathOf(oid, exec)));
      assert.ok(content.equals(expected), e.path);
    }
  }
}

/** What a deploy does once its release is sealed: the next fetch may build on this commit. */
async function settle(snap: Snapshot, _blobs: BlobStore): Promise<void> {
  await snap.settle?.();
}

/** The contents in the blob store (file names, temporaries left out). */
function storedBlobs(blobs: BlobStore): string[] {
  return fs.existsSync(blobs.root) ? fs.readdirSync(blobs.root).filter((n) => !n.includes('.tmp-')) : [];
}

/** A prepared tree holds new files at their paths, read-only, not yet in the store. */
function assertPrepared(snap: Snapshot, blobs: BlobStore, paths: string[]): void {
  assert.deepEqual([...(snap.prepared?.paths ?? [])].sort(), paths.sort());
  for (const p of paths) {
    const e = snap.entries.find((x) => x.path === p)!;
    const st = fs.lstatSync(path.join(snap.prepared!.dir, p));
    assert.ok(st.isFile(), p);
    assert.equal(st.mode & 0o777, e.kind === 'exec' ? 0o555 : 0o444, p);
    assert.ok(!fs.existsSync(blobs.pathOf(e.oid, e.kind === 'exec')), `${p} is not stored yet`);
  }
}

test('snapshots match git ls-tree; the next fetch takes only the new objects', async (t) => {
  const big = crypto.randomBytes(60_000).toString('hex');
  const s = await setup(t, {
    'package.json': '{"name":"app"}',
    'src/a.txt': big,
    // Near-copies make the server send deltas within the pack.
    'src/b.txt': big.slice(0, 100_000) + 'changed' + big.slice(100_000),
    'bin/run': '#!/bin/sh\necho hi\n',
  });
  fs.chmodSync(path.join(s.repo.work, 'bin/run'), 0o755);
  fs.symlinkSync('src/a.txt', path.join(s.repo.work, 'link'));
  s.repo.commit({});
  const first = await s.fetch();
  assertMatchesGit(first, s.repo.work, s.blobs);
  assertPrepared(first, s.blobs, ['package.json', 'src/a.txt', 'src/b.txt', 'bin/run']);
  assert.ok(first.bytesFetched > 50_000);
  await settle(first, s.blobs);

  s.repo.commit({ 'src/c.txt': 'small change\n' });
  const stored = storedBlobs(s.blobs).length;
  const second = await s.fetch();
  assertMatchesGit(second, s.repo.work, s.blobs);
  assert.ok(second.bytesFetched < 5_000, `second fetch took ${second.bytesFetched} bytes`);
  assert.equal(storedBlobs(s.blobs).length, stored, 'the new content waits for materialize');
  // Only the new content waits at its path for materialize.
  assertPrepared(second, s.blobs, ['src/c.txt']);
  const left = fs.readdirSync(path.join(s.store, 'tmp'));
  assert.deepEqual(left.sort(), [first, second].map((x) => path.basename(x.prepared!.dir)).sort(), 'no scratch files but the prepared trees');
  await settle(second, s.blobs);

  // Already in the store: no network at all.
  const before = s.server.requests.length;
  const target = await resolveGitRef(s.url, undefined, {});
  const again = await fetchGit(s.url, target, { storeRoot: s.store, owner: 'app', tmpRoot: path.join(s.store, 'tmp'), blobs: s.blobs });
  assert.equal(again.bytesFetched, 0);
  assert.equal(s.server.requests.length, before + 1); // the discovery only
});

test('an annotated tag deploys the commit it points to', async (t) => {
  const s = await setup(t, { 'package.json': '{}' });
  git(s.repo.work, 'tag', '-a', 'v1', '-m', 'release 1');
  git(s.repo.work, 'push', '-q', 'origin', 'v1');
  const head = git(s.repo.work, 'rev-parse', 'HEAD');
  s.repo.commit({ 'x.txt': 'later' });
  const target = await resolveGitRef(s.url, 'v1', {});
  assert.equal(target.commit, head);
  assert.equal(target.ref, 'refs/tags/v1');
  const snap = await s.fetch('v1');
  assert.equal(snap.commit, head);
  assert.deepEqual(
    snap.entries.map((e) => e.path),
    ['package.json'],
  );
});

test('a force-push that rewrites the deployed commit still yields the right tree', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'a.txt': 'one' });
  s.repo.commit({ 'a.txt': 'two' });
  await settle(await s.fetch(), s.blobs);
  git(s.repo.work, 'reset', '-q', '--hard', 'HEAD~1');
  fs.writeFileSync(path.join(s.repo.work, 'a.txt'), 'rewritten');
  git(s.repo.work, 'commit', '-qam', 'amended');
  git(s.repo.work, 'push', '-q', '-f', 'origin', 'HEAD:main');
  const snap = await s.fetch();
  assertMatchesGit(snap, s.repo.work, s.blobs);
});

test('a mode change without a content change, and contents lost from the store, are handled', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'tool.sh': 'echo tool\n', 'data.txt': 'data\n' });
  await settle(await s.fetch(), s.blobs);
  fs.chmodSync(path.join(s.repo.work, 'tool.sh'), 0o755);
  s.repo.commit({});
  const chmodded = await s.fetch();
  assertMatchesGit(chmodded, s.repo.work, s.blobs);
  assert.equal(chmodded.entries.find((e) => e.path === 'tool.sh')!.kind, 'exec');
  await settle(chmodded, s.blobs);

  // Someone cleaned the blob store by hand: the fetch notices and takes the whole snapshot.
  fs.rmSync(s.blobs.root, { recursive: true });
  s.repo.commit({ 'new.txt': 'new\n' });
  const recovered = await s.fetch();
  assertMatchesGit(recovered, s.repo.work, new BlobStore(s.blobs.root));
  await settle(recovered, s.blobs);
  const files = [...lsTree(s.repo.work).values()].filter(([mode]) => mode !== '120000');
  assert.equal(storedBlobs(s.blobs).length, new Set(files.map(([mode, oid]) => (mode === '100755' ? `${oid}.x` : oid))).size);
});

test('a torn tail in the object log (crash mid-append) is cut off and the store keeps working', async (t) => {
  const s = await setup(t, { 'package.json': '{}' });
  await settle(await s.fetch(), s.blobs);
  const log = path.join(gitStoreDir(s.store, 'app', s.url), 'objects.log');
  fs.appendFileSync(log, Buffer.from([1, 2, 3, 4, 5, 6, 7]));
  s.repo.commit({ 'b.txt': 'b' });
  const snap = await s.fetch();
  assertMatchesGit(snap, s.repo.work, s.blobs);
  s.repo.commit({ 'c.txt': 'c' });
  assertMatchesGit(await s.fetch(), s.repo.work, s.blobs);
});

/** Keeps the log's records whose type code `keep` accepts (1 commit, 2 tree, 3 blob). */
function filterLog(log: string, keep: (type: number) => boolean): number {
  const data = fs.readFileSync(log);
  const kept: Buffer[] = [];
  let dropped = 0;
  for (let i = 0; i + 25 <= data.length; ) {
    const end = i + 25 + data.readUInt32BE(i + 21);
    if (keep(data[i + 20])) kept.push(data.subarray(i, end));
    else dropped++;
    i = end;
  }
  fs.writeFileSync(log, Buffer.concat(kept));
  return dropped;
}

test('a tip whose trees a power cut took from the unsynced log is fetched again whole', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'src/a.ts': 'a\n', 'src/deep/b.ts': 'b\n' });
  await settle(await s.fetch(), s.blobs);
  const log = path.join(gitStoreDir(s.store, 'app', s.url), 'objects.log');
  // The commit record reached the disk, its trees did not; the ref names the commit.
  assert.ok(filterLog(log, (type) => type !== 2) >= 3);
  // The same commit again: the store has it, not its trees.
  const again = await s.fetch();
  assertMatchesGit(again, s.repo.work, s.blobs);
  await settle(again, s.blobs);
  filterLog(log, (type) => type !== 2);
  // A new commit on top: the server assumes the tip's trees are here and does not send them.
  s.repo.commit({ 'src/deep/c.ts': 'c\n' });
  const next = await s.fetch();
  assertMatchesGit(next, s.repo.work, s.blobs);
  await settle(next, s.blobs);
  s.repo.commit({ 'd.ts': 'd\n' });
  assertMatchesGit(await s.fetch(), s.repo.work, s.blobs);
});

test('a commit record the log holds but a power cut damaged is fetched and written again', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'src/a.ts': 'a\n' });
  await settle(await s.fetch(), s.blobs);
  const log = path.join(gitStoreDir(s.store, 'app', s.url), 'objects.log');
  // Zero the first record's content (the commit): its header still fits, its bytes are gone.
  const data = fs.readFileSync(log);
  assert.equal(data[20], 1, 'the first record is the commit');
  data.fill(0, 25, 25 + data.readUInt32BE(21));
  fs.writeFileSync(log, data);
  for (let i = 0; i < 2; i++) {
    const again = await s.fetch();
    assertMatchesGit(again, s.repo.work, s.blobs);
    // Fetched again once, and written again: the next time the store has it whole.
    if (i === 0) assert.ok(again.bytesFetched > 0);
    else assert.equal(again.bytesFetched, 0);
    await settle(again, s.blobs);
  }
  s.repo.commit({ 'src/b.ts': 'b\n' });
  assertMatchesGit(await s.fetch(), s.repo.work, s.blobs);
});

/** Requests that reached any proxy with an Authorization header. */
const proxyAuth: string[] = [];

/** A server in front of the git server that can rewrite its answers. */
async function proxy(t: TestContext, upstream: string, mangle: (pathname: string, body: Buffer) => { status?: number; type?: string; body: Buffer }) {
  const server = http.createServer(async (req, res) => {
    if (req.headers.authorization) proxyAuth.push(req.url!);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const up = await fetch(upstream + req.url, { method: req.method, headers: { 'content-type': String(req.headers['content-type'] ?? '') }, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await up.arrayBuffer());
    const out = mangle(new URL(req.url!, 'http://x').pathname, body);
    res.writeHead(out.status ?? up.status, { 'content-type': out.type ?? up.headers.get('content-type') ?? '' });
    res.end(out.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a damaged pack is refused and the store is left as it was', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'a.txt': 'x'.repeat(5000) });
  const base = await proxy(t, s.server.url, (p, body) => {
    if (!p.endsWith('git-upload-pack')) return { body };
    const copy = Buffer.from(body);
    copy[copy.length - 30] ^= 0xff; // inside the pack's last bytes
    return { body: copy };
  });
  const url = `${base}/app.git`;
  const target = await resolveGitRef(url, undefined, {});
  await assert.rejects(fetchGit(url, target, { storeRoot: s.store, owner: 'app', tmpRoot: path.join(s.store, 'tmp'), blobs: s.blobs }), (e) => {
    assert.ok(isRevError(e, 'UNREACHABLE'));
    assert.match((e as Error).message, /damaged or cut short/);
    return true;
  });
  const dir = gitStoreDir(s.store, 'app', url);
  assert.equal(fs.existsSync(path.join(dir, 'refs')), false);
  assert.equal(fs.existsSync(path.join(dir, 'objects.log')), false);
});

test('a server that is not a smart-HTTP git server gets a clear error', async (t) => {
  const s = await setup(t, { 'package.json': '{}' });
  const base = await proxy(t, s.server.url, () => ({ status: 200, type: 'text/html', body: Buffer.from('<html>hello</html>') }));
  await assert.rejects(resolveGitRef(`${base}/app.git`, undefined, {}), (e) => {
    assert.ok(isRevError(e, 'UNREACHABLE'));
    assert.match((e as Error).message, /does not look like a git repository/);
    return true;
  });
});

test('pack reading refuses damage: checksum, truncation, bad deltas, objects over the limit', async (t) => {
  const dir = tmpDir('toes-rev-pack-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const read = (pack: Buffer, objectBytes = 1 << 30) => {
    const file = path.join(dir, `p${n++}.pack`);
    fs.writeFileSync(file, pack);
    const blobDir = fs.mkdtempSync(path.join(dir, 'blobs-'));
    return indexPack(file, { blobDir, limits: { objectBytes, blobBytes: Number.MAX_SAFE_INTEGER } });
  };
  await assert.rejects(read(Buffer.from('not a pack at all, not even close.....')), PackError);
  const header = Buffer.from('PACK\0\0\0\x02\0\0\0\x01', 'latin1');
  const body = Buffer.concat([header, Buffer.from([0x35]), Buffer.from('garbage')]);
  const sum = crypto.createHash('sha1').update(body).digest();
  await assert.rejects(read(Buffer.concat([body, sum])), PackError);
  const good = Buffer.concat([body, sum]);
  good[good.length - 1] ^= 1;
  await assert.rejects(read(good), /checksum/);
  // A blob whose header claims 1 MiB is refused from the header, under a 1 KiB limit.
  const big = Buffer.concat([header, Buffer.from([0xb0, 0x80, 0x40]), zlibDeflate(Buffer.alloc(1 << 20))]);
  await assert.rejects(read(Buffer.concat([big, crypto.createHash('sha1').update(big).digest()]), 1024), PackLimitError);
  // delta: base size 3, result size 5, copy 3 from 0, insert "xy"
  assert.equal(applyDelta(Buffer.from('abc'), Buffer.from([3, 5, 0x91, 0, 3, 2, 0x78, 0x79])).toString(), 'abcxy');
  assert.throws(() => applyDelta(Buffer.from('abc'), Buffer.from([4, 1, 1, 0x78])), PackError);
  assert.throws(() => applyDelta(Buffer.from('abc'), Buffer.from([3, 5, 0x91, 0, 3, 2, 0x78, 0x79]), 4), PackLimitError);
});

test('ref names from the server that would escape the store are ignored, never written', async (t) => {
  const s = await setup(t, { 'package.json': '{}' });
  const head = git(s.repo.work, 'rev-parse', 'HEAD');
  const evil = 'refs/heads/../../../../../pwned';
  const pkt = (line: string) => (line.length + 4).toString(16).padStart(4, '0') + line;
  const base = await proxy(t, s.server.url, (p, body) => {
    if (!p.endsWith('/info/refs')) return { body };
    const ad = pkt('# service=git-upload-pack\n') + '0000' + pkt(`${head} HEAD\0side-band-64k ofs-delta shallow symref=HEAD:${evil}\n`) + pkt(`${head} ${evil}\n`) + pkt(`${head} refs/heads/main\n`) + '0000';
    return { body: Buffer.from(ad), type: 'application/x-git-upload-pack-advertisement' };
  });
  const url = `${base}/app.git`;
  await assert.rejects(resolveGitRef(url, '../../../../../pwned', {}), (e) => isRevError(e, 'REF_NOT_FOUND'));
  const target = await resolveGitRef(url, undefined, {});
  assert.equal(target.ref, 'HEAD'); // the unsafe symref target was dropped
  const snap = await fetchGit(url, target, { storeRoot: s.store, owner: 'app', tmpRoot: path.join(s.store, 'tmp'), blobs: s.blobs });
  await settle(snap, s.blobs);
  // Where such a ref could land: anywhere in the store, or in a folder above it (a `find`
  // over the shared /tmp failed on other tests' folders vanishing under it).
  const landed = fs
    .readdirSync(s.store, { recursive: true })
    .map(String)
    .filter((n) => n.split(path.sep).includes('pwned'));
  for (let d = s.store; d !== path.dirname(d); d = path.dirname(d)) if (fs.existsSync(path.join(d, 'pwned'))) landed.push(d);
  assert.deepEqual(landed, []);
});

test('a repository that moved (301) is fetched from where it answers, and the token stays home', async (t) => {
  const s = await setup(t, { 'package.json': '{}', 'a.txt': 'moved' });
  let authAtOld = 0;
  const other = await proxy(t, s.server.url, (_p, body) => ({ body }));
  proxyAuth.length = 0;
  const mover = http.createServer((req, res) => {
    if (req.headers.authorization) authAtOld++;
    res.writeHead(301, { location: `${other}${req.url!.replace(/^\/old/, '')}` });
    res.end();
  });
  await new Promise<void>((r) => mover.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => mover.close(() => r())));
  const url = `http://127.0.0.1:${(mover.address() as AddressInfo).port}/old/app.git`;
  const target = await resolveGitRef(url, undefined, { token: 'rt_secret_token_value' });
  const snap = await fetchGit(url, target, { storeRoot: s.store, owner: 'app', tmpRoot: path.join(s.store, 'tmp'), blobs: s.blobs, token: 'rt_secret_token_value' });
  assertMatchesGit(snap, s.repo.work, s.blobs);
  // The pack request went straight to the new place (a redirected POST would have failed).
  assert.ok(s.server.requests.some((r) => r.method === 'POST'));
  assert.ok(authAtOld > 0, 'the token was offered where the repository was configured');
  assert.deepEqual(proxyAuth, [], 'no credential crossed to the other origin');
});
