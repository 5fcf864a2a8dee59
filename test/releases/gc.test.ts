// Garbage collection end to end, through the CLI against a real git server: it frees
// exactly what nothing needs and leaves every kept release byte for byte as it was; a dry
// run changes nothing; pruned releases take their deploy logs along; sources no kept
// release uses lose their store; and the store still serves the next incremental fetch.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BlobStore, gitBlobId } from '../../src/fetch/blobs.js';
import { Layout, resolveRoots } from '../../src/releases/paths.js';
import { startUntil, tmpfs } from '../fixtures/cli.js';
import { git, makeRepo } from '../fixtures/repo.js';
import { releasesOf, treeOf } from '../fixtures/trees.js';
import { atRest, makeWorld, type World } from '../fixtures/world.js';

function blobNames(w: World): string[] {
  return fs.existsSync(w.layout.blobsRoot) ? fs.readdirSync(w.layout.blobsRoot).sort() : [];
}

/** Every path and size under DATA_DIR: what a dry run must leave as it was. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, d.name);
      const st = fs.lstatSync(path.join(root, r));
      out.push(`${r} ${st.isDirectory() ? 'dir' : st.size} ${st.nlink}`);
      if (d.isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

test('gc frees exactly the blobs nothing needs, keeps every kept release intact; --dry-run changes nothing', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const deploy = async (args: string[] = []) => {
    const r = await w.toes(['deploy', 'sample', '--no-install', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.json();
  };
  await deploy(['--from', w.url]);
  w.repo.commit({ 'assets/a.bin': crypto.randomBytes(40_000).toString('hex'), 'x/run.sh': 'echo 1\n' });
  await deploy();
  // A deploy killed after its fetch: its new files wait in scratch space for materialize,
  // so it leaves nothing in the store.
  const orphan = { 'assets/orphan.bin': crypto.randomBytes(30_000).toString('hex'), 'assets/o2.txt': 'only in the killed deploy\n' };
  w.repo.commit(orphan);
  const p = startUntil(w.data, ['deploy', 'sample', '--no-install'], 'failpoint fetched reached', { env: { TOES_REV_FAILPOINT: 'fetched' } });
  await p.reached;
  p.child.kill('SIGKILL');
  await p.closed;
  const expected = Object.values(orphan).map((c) => gitBlobId(Buffer.from(c))).sort();
  for (const b of expected) assert.ok(!blobNames(w).includes(b), 'the killed deploy left nothing in the store');
  // Contents in the store that no release links and no tip names (as a fetch stores what it
  // could not place, and a deploy then killed leaves them): garbage.
  const store = new BlobStore(w.layout.blobsRoot);
  for (const [oid, c] of Object.values(orphan).map((c) => [gitBlobId(Buffer.from(c)), c] as const)) await store.put(oid, false, Buffer.from(c));

  const releases = releasesOf(w, 'sample');
  const before = blobNames(w);
  const disk = listing(w.data);
  const dry = await w.toes(['gc', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const d = dry.json();
  assert.equal(d.dryRun, true);
  assert.equal(d.releases, 'links');
  assert.equal(d.freed.blobs, expected.length);
  assert.equal(d.freed.bytes, Object.values(orphan).reduce((n, c) => n + Buffer.byteLength(c), 0));
  assert.equal(d.store.blobs, before.length);
  assert.deepEqual(listing(w.data), disk, 'a dry run changed something');
  const text = await w.toes(['gc', '--dry-run']);
  assert.match(text.stdout, /store: \d+ blobs/);
  assert.match(text.stdout, /would free: 2 blobs/);

  const g = await w.toes(['gc', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json().freed.blobs, expected.length);
  assert.equal(g.json().complete, true);
  assert.deepEqual(blobNames(w), before.filter((b) => !expected.includes(b)));
  assert.deepEqual(releasesOf(w, 'sample'), releases, 'a kept release changed');
  assert.equal((await w.toes(['gc', '--json'])).json().freed.blobs, 0, 'a second gc finds nothing');

  // The next deploy (which fetches the commit whose contents were collected) works.
  const next = await deploy();
  assert.equal(w.liveFile('assets/o2.txt'), orphan['assets/o2.txt']);
  assert.ok(next.ok);
});

test('with keep 1, each deploy gives back what the pruned release alone used: its directory, its log, its blobs, its git objects', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '1'])).code, 0);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    if (i) w.repo.commit({ 'asset.bin': crypto.randomBytes(100_000).toString('hex') });
    const r = await w.toes(['deploy', 'sample', '--no-install', '--json', ...(i ? [] : ['--from', w.url])]);
    assert.equal(r.code, 0, r.stderr);
    ids.push(r.json().release);
    // The collection runs after the command returned, in a process of its own.
    await atRest(w);
  }
  // Kept: the live release and the rollback target. Pruned ones left no directory and no log.
  const kept = ids.slice(-2);
  assert.deepEqual(fs.readdirSync(w.layout.appDir('sample')).filter((n) => n !== 'current').sort(), kept);
  for (const id of ids) assert.equal(fs.existsSync(w.layout.deployLog('sample', id)), kept.includes(id), `log of ${id}`);
  // Two releases' assets are left, and nothing else: every blob is linked by a release.
  for (const b of blobNames(w)) assert.ok(fs.statSync(path.join(w.layout.blobsRoot, b)).nlink > 1, `${b} is linked by no release`);
  const dry = (await w.toes(['gc', '--dry-run', '--json'])).json();
  assert.equal(dry.freed.blobs, 0);
  assert.equal(dry.objects, 0, 'the deploy compacted its object log already');

  // A rollback to the kept previous release still works, byte for byte.
  assert.equal((await w.toes(['rollback', 'sample'])).code, 0);
  assert.equal(w.live(), kept[0]);
});

test('the store of a source no kept release uses is removed; an unknown app is refused and nothing changes', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const other = makeRepo(w.root, 'moved.git', { 'package.json': JSON.stringify({ name: 'sample' }), 'VERSION': 'moved\n' });
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '1'])).code, 0);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const stores = () => fs.readdirSync(path.join(w.layout.storeRoot, 'git')).sort();
  const first = stores();
  assert.equal(first.length, 1);
  const moved = w.server.repoUrl('moved.git');
  for (let i = 0; i < 2; i++) {
    other.commit({ 'VERSION': `moved ${i}\n` });
    const r = await w.toes(['deploy', 'sample', ...(i ? [] : ['--from', moved]), '--no-install', '--json']);
    assert.equal(r.code, 0, r.stderr);
    await atRest(w);
  }
  // Both deploys came from the moved source (the first --from is saved for the second).
  assert.equal(w.liveFile('VERSION'), 'moved 1\n');
  // The releases of the first source are pruned: its store went with the last of them.
  assert.equal(stores().length, 1);
  assert.notEqual(stores()[0], first[0]);

  const disk = listing(w.data);
  const bad = await w.toes(['gc', 'nosuch', '--json']);
  assert.equal(bad.code, 1);
  assert.equal(bad.json().error.code, 'UNKNOWN_APP');
  const worse = await w.toes(['gc', '../x']);
  assert.equal(worse.code, 2);
  assert.deepEqual(listing(w.data), disk);
});

test('APPS_DIR on another filesystem: releases hold copies, so gc keeps only what the store tip needs', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const apps = tmpfs(t, '64m');
  const env = { APPS_DIR: apps };
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '1'], { env })).code, 0);
  const assets: string[] = [];
  for (let i = 0; i < 4; i++) {
    if (i) assets.push(crypto.randomBytes(50_000).toString('hex'));
    if (i) w.repo.commit({ 'asset.bin': assets.at(-1)! });
    const r = await w.toes(['deploy', 'sample', '--no-install', ...(i ? [] : ['--from', w.url])], { env });
    assert.equal(r.code, 0, r.stderr);
    await atRest(w);
  }
  const layout = new Layout(resolveRoots({ dataDir: w.data, appsDir: apps }, {}));
  const kept = Object.fromEntries(fs.readdirSync(layout.appDir('sample')).filter((n) => n !== 'current').map((id) => [id, treeOf(layout.releaseDir('sample', id))]));
  const g = await w.toes(['gc', '--json'], { env });
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json().releases, 'copies');
  // Left: the contents of the tip's tree (the next fetch builds on them) and of the kept
  // releases' commits (a --force rebuild finds them), nothing else.
  const commits = ['HEAD', ...w.releaseLog().filter((r) => kept[r.id] && r.commit).map((r) => r.commit)];
  const needed = commits.flatMap((c) => git(w.repo.work, 'ls-tree', '-r', c).split('\n').map((l) => l.split(/\s+/)[2]));
  assert.deepEqual(blobNames(w), [...new Set(needed)].sort());
  assert.ok(!blobNames(w).includes(gitBlobId(Buffer.from(assets[0]))), 'the asset of a pruned release is left');
  for (const [id, tree] of Object.entries(kept)) assert.deepEqual(treeOf(layout.releaseDir('sample', id)), tree, `release ${id} changed`);
  w.repo.commit({ 'VERSION': 'after gc\n' });
  const next = await w.toes(['deploy', 'sample', '--no-install', '--json'], { env });
  assert.equal(next.code, 0, next.stderr);
  assert.ok(next.json().bytesFetched < 10_000, `fetched ${next.json().bytesFetched} bytes for a one-line change`);
});
