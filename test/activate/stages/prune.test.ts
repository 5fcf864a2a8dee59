import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appFiles } from '../../fixtures/repo.js';
import { makeWorld } from '../../fixtures/world.js';

test('retention keeps the newest N good releases; failed ones never count; live and previous stay', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '2'])).code, 0);
  const ids: string[] = [];
  const first = (await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--json'])).json();
  ids.push(first.release);
  for (let i = 2; i <= 4; i++) {
    w.repo.commit({ 'VERSION': `v${i}\n` });
    const r = (await w.toes(['deploy', 'sample', '--no-install', '--json'])).json();
    assert.equal(r.ok, true);
    ids.push(r.release);
  }
  // A failing build in between does not count and leaves nothing on disk.
  w.repo.commit({ 'package.json': JSON.stringify({ name: 'sample', scripts: { predeploy: 'exit 1' } }) });
  const bad = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(bad.code, 1);

  // Pruned releases are moved aside at once, and deleted during the next deploy (here the
  // failed one): only the kept releases are left.
  const appDir = w.layout.appDir('sample');
  const onDisk = fs.readdirSync(appDir).filter((n) => n !== 'current').sort();
  assert.deepEqual(onDisk, ids.slice(-2));
  const rels = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.deepEqual(
    rels.filter((r: any) => r.pruned).map((r: any) => r.id),
    ids.slice(0, 2),
  );
  // Pruned releases cannot be rolled back to, and say why.
  const gone = await w.toes(['rollback', 'sample', ids[0], '--json']);
  assert.equal(gone.code, 1);
  assert.equal(gone.json().error.code, 'RELEASE_NOT_FOUND');
  assert.match(gone.stderr, /pruned/);

  // After a rollback, the live (older) release and the newer one both stay.
  assert.equal((await w.toes(['rollback', 'sample'])).code, 0);
  w.repo.commit({ 'package.json': appFiles('v5')['package.json'], 'VERSION': 'v5\n' });
  const r5 = (await w.toes(['deploy', 'sample', '--no-install', '--json'])).json();
  assert.equal(r5.ok, true);
  assert.equal(w.live(), r5.release);
  // Kept: the live release, the one before it (the rollback target), and the newest 2 good
  // ones; nothing was pruned, and no trash is left.
  assert.deepEqual(r5.pruned, []);
  const kept = fs.readdirSync(appDir).filter((n) => n !== 'current').sort();
  assert.deepEqual(kept, [ids[2], ids[3], r5.release]);
});
