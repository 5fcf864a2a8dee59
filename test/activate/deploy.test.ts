import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeWorld, leftovers } from '../fixtures/world.js';

test('deploy, deploy a change, list, roll back, and refuse a rollback with nowhere to go', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());

  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const r1 = first.json();
  assert.equal(r1.ok, true);
  assert.equal(r1.app, 'sample');
  assert.equal(r1.status, 'live');
  assert.match(r1.version, /^[0-9a-f]{40}$/);
  assert.equal(r1.commit, r1.version);
  assert.equal(w.live(), r1.release);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.match(r1.release, /^\d{8}-\d{6}(-\d+)?$/);

  // The source was saved: a plain deploy now takes the newest commit of the default branch.
  const c2 = w.repo.commit({ 'VERSION': 'v2\n' });
  const second = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const r2 = second.json();
  assert.equal(r2.version, c2);
  assert.equal(r2.previous, r1.release);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  // Pull-through: the second fetch asks only for what is new, far less than the first.
  assert.ok(r2.bytesFetched > 0 && r2.bytesFetched < r1.bytesFetched, `${r2.bytesFetched} vs ${r1.bytesFetched}`);

  // Unchanged files are one inode shared by both releases; the releases are read-only.
  const a = fs.statSync(path.join(w.apps, 'sample', r1.release, 'package.json'));
  const b = fs.statSync(path.join(w.apps, 'sample', r2.release, 'package.json'));
  assert.equal(a.ino, b.ino);
  assert.equal(a.mode & 0o222, 0);

  const list = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.deepEqual(
    list.map((r: any) => [r.id, r.status, r.live]),
    [
      [r1.release, 'previous', false],
      [r2.release, 'live', true],
    ],
  );
  for (const r of list) for (const k of ['version', 'commit', 'status', 'live', 'createdAt']) assert.ok(k in r, k);

  const back = await w.toes(['rollback', 'sample', '--json']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.json().release, r1.release);
  assert.equal(w.live(), r1.release);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  const after = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.deepEqual(
    after.map((r: any) => r.status),
    ['live', 'rolled-back'],
  );

  // Nothing older than v1: a clear error, exit non-zero, nothing changed.
  const logBefore = fs.readFileSync(w.layout.releaseLog('sample'), 'utf8');
  const none = await w.toes(['rollback', 'sample', '--json']);
  assert.equal(none.code, 1);
  assert.equal(none.json().error.code, 'NO_ROLLBACK_TARGET');
  assert.match(none.stderr, /no earlier good release/);
  assert.equal(w.live(), r1.release);
  assert.equal(fs.readFileSync(w.layout.releaseLog('sample'), 'utf8'), logBefore);

  // Roll forward by naming the newer release.
  const fwd = await w.toes(['rollback', 'sample', r2.release.slice(0, 15), '--json']);
  assert.equal(fwd.code, 0, fwd.stderr);
  assert.equal(w.live(), r2.release);
  assert.deepEqual(leftovers(w), []);
});

test('a version that already has a sealed release is reused without a fetch or a build', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const r1 = (await w.toes(['deploy', 'sample', '--from', w.url, '--json'])).json();
  w.repo.commit({ 'VERSION': 'v2\n' });
  const r2 = (await w.toes(['deploy', 'sample', '--json'])).json();
  assert.equal(r2.ok, true);

  // Same version again: nothing to do at all.
  const same = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(same.code, 0);
  assert.equal(same.json().unchanged, true);
  assert.equal(w.live(), r2.release);

  // Going back to v1 by ref: the sealed release is reused; no pack is downloaded.
  const packsBefore = w.server.requests.filter((r) => r.path.endsWith('git-upload-pack') && r.method === 'POST').length;
  const again = await w.toes(['deploy', 'sample', '--ref', r1.version, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const res = again.json();
  assert.equal(res.reused, true);
  assert.equal(res.release, r1.release);
  assert.equal(w.live(), r1.release);
  const packsAfter = w.server.requests.filter((r) => r.path.endsWith('git-upload-pack') && r.method === 'POST').length;
  assert.equal(packsAfter, packsBefore);
  const skipped = res.stages.filter((s: any) => s.skipped);
  assert.deepEqual(
    skipped.map((s: any) => s.name),
    ['fetch', 'begin', 'materialize', 'install', 'predeploy', 'relink', 'lacks', 'seal'],
  );
  for (const s of skipped.filter((s: any) => s.name !== 'lacks')) assert.match(s.reason, new RegExp(`has a sealed release \\(${r1.release}\\): reused`));
});

test('deploys a tag and a branch given with --ref, and says so when the ref does not exist', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  w.repo.tag('v1.0');
  w.repo.commit({ 'VERSION': 'v2\n' });
  const tagged = await w.toes(['deploy', 'sample', '--from', w.url, '--ref', 'v1.0', '--json']);
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.equal(tagged.json().ok, true);

  const missing = await w.toes(['deploy', 'sample', '--ref', 'nope', '--json']);
  assert.equal(missing.code, 1);
  assert.equal(missing.json().error.code, 'REF_NOT_FOUND');
  assert.match(missing.stderr, /"nope" does not exist/);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
});

test('no source known: says how to give one, changes nothing', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const r = await w.toes(['deploy', 'ghost', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json().error.code, 'NO_SOURCE');
  assert.match(r.stderr, /--from/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.equal(fs.existsSync(w.layout.appDir('ghost')), false);

  const bad = await w.toes(['deploy', '../etc', '--from', w.url, '--json']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json().error.code, 'USAGE');
});

test('an unreachable host is a clear error and nothing changes', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  await w.toes(['deploy', 'sample', '--from', w.url]);
  const live = w.live();
  // Port 9 (discard): nothing listens there on loopback.
  const dead = 'http://127.0.0.1:9/app.git';
  const r = await w.toes(['deploy', 'sample', '--from', dead, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json().error.code, 'UNREACHABLE');
  assert.match(r.stderr, /Could not reach 127\.0\.0\.1:9/);
  assert.equal(w.live(), live);
  // A failed --from is not saved.
  const cfg = JSON.parse(fs.readFileSync(w.layout.appConfig('sample'), 'utf8'));
  assert.equal(cfg.source, w.url);
});

test('a repository without package.json is refused and nothing is published', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  await w.toes(['deploy', 'sample', '--from', w.url]);
  const live = w.live();
  w.repo.commit({ 'package.json': null });
  const r = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json().error.code, 'NO_PACKAGE_JSON');
  assert.equal(w.live(), live);
  assert.deepEqual(leftovers(w), []);
  const dirs = fs.readdirSync(path.join(w.apps, 'sample')).filter((n) => n !== 'current');
  assert.deepEqual(dirs, [live]);
  // Refused before anything was built: the release log is as it was.
  const log = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.deepEqual(
    log.map((r: any) => [r.id, r.status]),
    [[live, 'live']],
  );
});
