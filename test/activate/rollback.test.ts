// Rollback's refusals: an app with no releases, and a VERSION prefix matching releases of
// different versions. Neither changes anything.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeWorld } from '../fixtures/world.js';

test('rollback (and releases) of an app that does not exist: UNKNOWN_APP, nothing created', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const rb = await w.toes(['rollback', 'ghost', '--json']);
  assert.equal(rb.code, 1);
  assert.equal(rb.json().error.code, 'UNKNOWN_APP');
  assert.equal(rb.json().failedStage, 'recover');
  assert.match(rb.stderr, /toes deploy ghost --from/);
  assert.equal(fs.existsSync(w.layout.appDir('ghost')), false);
  assert.equal(fs.existsSync(w.layout.releaseLog('ghost')), false);

  const list = await w.toes(['releases', 'ghost', '--json']);
  assert.equal(list.code, 1);
  assert.equal(list.json().error.code, 'UNKNOWN_APP');
});

test('a prefix matching releases of different versions is ambiguous: USAGE, current untouched', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  // Two releases made before toes-rev: ids (and versions) share the prefix "2025010".
  const appDir = w.layout.appDir('sample');
  for (const [id, v] of [['20250101-120000', 'old1'], ['20250102-120000', 'old2'], ['20250103-120000', 'old3']]) {
    fs.mkdirSync(path.join(appDir, id), { recursive: true });
    fs.writeFileSync(path.join(appDir, id, 'VERSION'), v);
  }
  fs.symlinkSync('20250103-120000', path.join(appDir, 'current'));

  for (const prefix of ['2025010', 'adopted-2025']) {
    const r = await w.toes(['rollback', 'sample', prefix, '--json']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.json().error.code, 'USAGE');
    assert.match(r.stderr, new RegExp(`"${prefix}" matches several releases of sample \\(20250103-120000, 20250102-120000, 20250101-120000\\)`));
    assert.equal(w.live(), '20250103-120000');
  }
  // More characters name one.
  const one = await w.toes(['rollback', 'sample', '20250101', '--json']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(w.liveFile('VERSION'), 'old1');
});
