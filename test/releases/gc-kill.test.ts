// kill -9 of `toes gc` at random moments, while deploys of another app (and of the app
// being collected) link blobs from the same store: afterwards every release of both apps
// is complete, file by file, and the next `toes gc` finishes the job.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BlobStore, gitBlobId } from '../../src/fetch/blobs.js';
import { cliEnv, cliPath, startUntil } from '../fixtures/cli.js';
import { appFiles, git, makeRepo, type Repo } from '../fixtures/repo.js';
import { makeWorld, type World } from '../fixtures/world.js';
import { releasesOf } from '../fixtures/trees.js';

const ROUNDS = 15;

/** A repository whose every commit's files the test remembers, by commit id. */
function tracked(repo: Repo, first: Record<string, string>) {
  const files = { ...first };
  const at = new Map<string, Record<string, string>>();
  at.set(repo.commit({}), { ...files });
  return {
    at,
    commit(change: Record<string, string>): string {
      Object.assign(files, change);
      const id = repo.commit(change);
      at.set(id, { ...files });
      return id;
    },
  };
}

const sha1 = (s: string) => crypto.createHash('sha1').update(s).digest('hex');
const noise = (n: number) => crypto.randomBytes(n).toString('hex');

/** Every kept release of `app` holds exactly the files of its commit. */
function assertComplete(w: World, app: string, at: Map<string, Record<string, string>>, when: string): void {
  const log = new Map<string, any>();
  for (const r of w.releaseLog(app)) log.set(r.id, { ...log.get(r.id), ...r });
  for (const [id, tree] of Object.entries(releasesOf(w, app))) {
    const want = at.get(log.get(id).commit);
    assert.ok(want, `${app} ${id}: unknown commit`);
    assert.deepEqual(tree, Object.fromEntries(Object.entries(want).map(([p, c]) => [p, sha1(c)])), `${app} release ${id} is not complete ${when}`);
  }
}

function startToes(w: World, args: string[]) {
  const child = spawn(process.execPath, [cliPath, ...args], { env: cliEnv(w.data), cwd: w.data, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, closed, output: () => out };
}

test(`kill -9 of toes gc at random moments (${ROUNDS} rounds) racing deploys: every release stays complete, the next gc finishes`, async (t) => {
  const w = await makeWorld();
  const running: ReturnType<typeof startToes>[] = [];
  t.after(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.closed));
    await w.close();
  });
  const bFiles = { ...appFiles('b1'), 'package.json': JSON.stringify({ name: 'other' }) };
  const bRepo = makeRepo(w.root, 'other.git', bFiles);
  // git's own background gc would race the removal of the repositories at the end.
  for (const r of [w.repo, bRepo]) {
    git(r.work, 'config', 'gc.auto', '0');
    git(r.bare, 'config', 'receive.autogc', 'false');
    git(r.bare, 'config', 'gc.auto', '0');
  }
  const a = tracked(w.repo, appFiles('v1'));
  const b = tracked(bRepo, bFiles);
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '1'])).code, 0);
  assert.equal((await w.toes(['config', 'set', 'other', 'keep', '2'])).code, 0);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  assert.equal((await w.toes(['deploy', 'other', '--from', w.server.repoUrl('other.git'), '--no-install'])).code, 0);

  for (let round = 0; round < ROUNDS; round++) {
    // Garbage for gc to chew on: contents in the store that nothing links (as a fetch
    // stores what it could not place, and a deploy then killed leaves them), beside a
    // killed deploy's scratch files.
    const junk: Record<string, string> = {};
    // Many small files: their deletion takes long enough for kills to land inside it.
    for (let i = 0; i < 500; i++) junk[`junk/r${round}-${i}.txt`] = noise(100);
    a.commit(junk);
    const killed = startUntil(w.data, ['deploy', 'sample', '--no-install'], 'failpoint fetched reached', { env: { TOES_REV_FAILPOINT: 'fetched' } });
    await killed.reached;
    killed.child.kill('SIGKILL');
    await killed.closed;
    const store = new BlobStore(w.layout.blobsRoot);
    for (const c of Object.values(junk)) await store.put(gitBlobId(Buffer.from(c)), false, Buffer.from(c));

    // Now: a deploy of the other app (new and shared contents), every other round a whole
    // deploy of sample (whose prune collects too), and a gc killed at a random moment.
    b.commit({ [`src/f${round}.txt`]: noise(3_000), 'VERSION': `b${round}\n`, 'shared.txt': `round ${round % 3}\n` });
    if (round % 2 === 0) a.commit({ 'VERSION': `a${round}\n`, [`src/a${round}.txt`]: noise(1_000) });
    const startDeploys = () => {
      const list = [startToes(w, ['deploy', 'other', '--no-install', '--json'])];
      if (round % 2 === 0) list.push(startToes(w, ['deploy', 'sample', '--no-install', '--json']));
      running.push(...list);
      return list;
    };
    let deploys;
    if (round % 3 === 0) {
      // Half way through its deletions, holding the store: the deploys start while it
      // pauses there, and must get past the lock of a collector that is then killed.
      const gc = startUntil(w.data, ['gc', '--json'], 'failpoint sweep reached', { env: { TOES_REV_FAILPOINT: 'sweep' } });
      await gc.reached;
      deploys = startDeploys();
      await new Promise((r) => setTimeout(r, crypto.randomInt(0, 300)));
      gc.child.kill('SIGKILL');
      await gc.closed;
      t.diagnostic(`round ${round}: killed half way through the sweep`);
    } else {
      deploys = startDeploys();
      const gc = startToes(w, ['gc', '--json', '--wait', '5']);
      running.push(gc);
      await new Promise((r) => setTimeout(r, crypto.randomInt(0, 1500)));
      gc.child.kill('SIGKILL');
      await gc.closed;
      // Where the kill landed, for the record: inside a sweep it leaves the collector's lock.
      const where = gc.output() ? 'after gc ended' : fs.existsSync(w.layout.storeGcLock) ? 'inside the sweep' : 'before or between sweeps';
      t.diagnostic(`round ${round}: killed ${where}`);
    }
    for (const d of deploys) assert.equal(await d.closed, 0, d.output());
    running.length = 0;

    assertComplete(w, 'sample', a.at, `after round ${round}`);
    assertComplete(w, 'other', b.at, `after round ${round}`);
  }

  // The next gc finishes what the killed ones left, and then nothing is left to free.
  const g = await w.toes(['gc', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json().complete, true, g.stdout);
  const dry = (await w.toes(['gc', '--dry-run', '--json'])).json();
  assert.equal(dry.freed.blobs, 0);
  assert.equal(dry.objects, 0);
  assert.equal(fs.existsSync(w.layout.storeGcLock), false, 'the collector lock is left behind');
  assert.deepEqual(fs.readdirSync(w.layout.storeUsersDir).filter((n) => n.endsWith('.json')), [], 'store user notes are left behind');
  assert.deepEqual(fs.readdirSync(w.layout.blobsRoot).filter((n) => n.includes('.tmp-')), []);
  assertComplete(w, 'sample', a.at, 'at the end');
  assertComplete(w, 'other', b.at, 'at the end');

  // And both apps still deploy from their stores, incrementally.
  a.commit({ 'VERSION': 'a-last\n' });
  b.commit({ 'VERSION': 'b-last\n' });
  for (const app of ['sample', 'other']) {
    const r = await w.toes(['deploy', app, '--no-install', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json().bytesFetched < 10_000, `${app} fetched ${r.json().bytesFetched} bytes for a one-line change`);
  }
  assert.equal(fs.readFileSync(path.join(w.layout.currentLink('other'), 'VERSION'), 'utf8'), 'b-last\n');
  assertComplete(w, 'sample', a.at, 'after the last deploys');
  assertComplete(w, 'other', b.at, 'after the last deploys');
});
