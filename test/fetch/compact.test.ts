// Compacting a git store to what its tips reach, against a real `git http-backend`: the
// object log loses the history, the tip becomes a shallow boundary, and the next fetch
// still builds on the tip (it downloads only what changed, not the whole snapshot again).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BlobStore } from '../../src/fetch/blobs.js';
import { compactStore, storeNeeds } from '../../src/fetch/compact.js';
import { fetchGit, gitStoreDir, resolveGitRef } from '../../src/fetch/git-remote.js';
import { ObjectDb } from '../../src/fetch/objects.js';
import { startGitServer } from '../fixtures/git-server.js';
import { tmpDir } from '../fixtures/cli.js';
import { git, makeRepo } from '../fixtures/repo.js';

test('compaction keeps what the tip and the kept commits reach; the next fetch still builds on the tip', async (t) => {
  const root = tmpDir('toes-rev-src-');
  const store = tmpDir('toes-rev-store-');
  const big = crypto.randomBytes(300_000).toString('hex');
  const repo = makeRepo(root, 'app.git', { 'package.json': '{"name":"app"}', 'big.txt': big, 'bin/run': '#!/bin/sh\n' });
  const server = await startGitServer(root);
  t.after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(store, { recursive: true, force: true });
  });
  git(repo.work, 'update-index', '--chmod=+x', 'bin/run');
  git(repo.work, 'commit', '-q', '-m', 'exec');
  git(repo.work, 'push', '-q', 'origin', 'HEAD:main');
  const url = server.repoUrl('app.git');
  const blobs = new BlobStore(path.join(store, 'blobs'));
  const fetch = async () => {
    const target = await resolveGitRef(url, undefined, {});
    const snap = await fetchGit(url, target, { storeRoot: store, owner: 'app', tmpRoot: path.join(store, 'tmp'), blobs: new BlobStore(blobs.root) });
    await snap.settle?.();
    return snap;
  };
  await fetch();
  const kept = repo.commit({ 'dir/a.txt': 'a1\n' });
  await fetch();
  for (let i = 0; i < 4; i++) {
    repo.commit({ 'dir/a.txt': `a${i + 2}\n`, [`dir/n${i}.txt`]: `n${i}\n` });
    await fetch();
  }
  const tip = git(repo.work, 'rev-parse', 'HEAD');
  const gitdir = gitStoreDir(store, 'app', url);
  const db = new ObjectDb(gitdir);
  const before = (await db.records()).length;

  const dry = await compactStore(gitdir, [kept], true);
  assert.ok(dry.objects > 0, 'the history between the kept commit and the tip can go');
  assert.equal((await new ObjectDb(gitdir).records()).length, before, 'a dry run changes nothing');

  const done = await compactStore(gitdir, [kept], false);
  assert.equal(done.objects, dry.objects);
  const after = new ObjectDb(gitdir);
  const left = new Set((await after.records()).map((r) => r.oid));
  assert.equal(left.size, before - done.objects);
  for (const c of [tip, kept]) assert.ok(left.has(c), `commit ${c} is kept`);
  // Every tree of the tip and of the kept commit is there to walk.
  for (const c of [tip, kept]) {
    for (const line of git(repo.work, 'ls-tree', '-r', '-t', c).split('\n')) {
      const [meta] = line.split('\t');
      const [mode, type, oid] = meta.split(' ');
      if (type === 'tree') assert.ok(left.has(oid), `tree ${oid} of ${c}`);
      else if (mode !== '120000') assert.ok((await storeNeeds(gitdir, [kept])).has(mode === '100755' ? `${oid}.x` : oid), `blob ${oid} is needed`);
    }
  }
  // Both kept commits are boundaries now: their parents are gone.
  assert.deepEqual((await after.shallows()).sort(), [tip, kept].sort());
  assert.equal((await compactStore(gitdir, [kept], false)).objects, 0, 'a second compaction finds nothing');

  // The next fetch names the tip as a "have": only the changed file travels, not big.txt.
  repo.commit({ 'dir/a.txt': 'last\n' });
  const next = await fetch();
  assert.ok(next.bytesFetched < 20_000, `fetched ${next.bytesFetched} bytes: the whole snapshot came again`);
  assert.equal(next.entries.find((e) => e.path === 'dir/a.txt')?.oid, git(repo.work, 'rev-parse', 'HEAD:dir/a.txt'));
});
