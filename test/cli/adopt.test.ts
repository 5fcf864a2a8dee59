// Releases made before toes-rev (Toes' own timestamp dirs, an rsync deploy.sh's plain
// `current` directory) are adopted so that rollback to them works.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeWorld } from '../fixtures/world.js';

test('Toes timestamp releases with a current symlink are adopted; rollback reaches them', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const appDir = path.join(w.apps, 'sample');
  for (const [id, v] of [['20250101-120000', 'old1'], ['20250102-120000', 'old2']]) {
    fs.mkdirSync(path.join(appDir, id), { recursive: true });
    fs.writeFileSync(path.join(appDir, id, 'VERSION'), v);
    fs.writeFileSync(path.join(appDir, id, 'package.json'), '{"name":"sample"}');
  }
  fs.symlinkSync('20250102-120000', path.join(appDir, 'current'));

  const before = await w.toes(['releases', 'sample', '--json']);
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(
    before.json().map((r: any) => [r.id, r.status, r.live]),
    [
      ['20250101-120000', 'previous', false],
      ['20250102-120000', 'live', true],
    ],
  );

  const d = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.equal((await w.toes(['rollback', 'sample'])).code, 0);
  assert.equal(w.liveFile('VERSION'), 'old2');
  assert.equal((await w.toes(['rollback', 'sample'])).code, 0);
  assert.equal(w.liveFile('VERSION'), 'old1');
});

test('a plain current directory from a deploy.sh script becomes a release of its own', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const cur = path.join(w.apps, 'sample', 'current');
  fs.mkdirSync(cur, { recursive: true });
  fs.writeFileSync(path.join(cur, 'VERSION'), 'rsynced');
  fs.writeFileSync(path.join(cur, 'package.json'), '{"name":"sample"}');

  const d = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(fs.lstatSync(cur).isSymbolicLink());
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  const rels = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.equal(rels.length, 2);
  assert.equal(rels[0].status, 'previous');
  assert.match(rels[0].id, /^\d{8}-\d{6}$/);
  assert.equal((await w.toes(['rollback', 'sample'])).code, 0);
  assert.equal(w.liveFile('VERSION'), 'rsynced');
});

test('the source is found in the live release package.json (toes.source or repository)', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const rel = path.join(w.apps, 'sample', '20250101-120000');
  fs.mkdirSync(rel, { recursive: true });
  fs.writeFileSync(path.join(rel, 'package.json'), JSON.stringify({ name: 'sample', repository: { type: 'git', url: `git+${w.url}` } }));
  fs.symlinkSync('20250101-120000', path.join(w.apps, 'sample', 'current'));
  const d = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
});
