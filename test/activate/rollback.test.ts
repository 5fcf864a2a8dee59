// Rollback's refusals: an app with no releases, and a VERSION prefix matching releases of
// different versions. Neither changes anything. And a log grown long by rollbacks is
// rewritten short by the next one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeWorld, type World } from '../fixtures/world.js';

/** Three releases of sample made before toes-rev (ids 20250101-120000 to 20250103-120000, VERSION old1 to old3), the last live. */
function madeBefore(w: World): void {
  const appDir = w.layout.appDir('sample');
  for (const [id, v] of [['20250101-120000', 'old1'], ['20250102-120000', 'old2'], ['20250103-120000', 'old3']]) {
    fs.mkdirSync(path.join(appDir, id), { recursive: true });
    fs.writeFileSync(path.join(appDir, id, 'VERSION'), v);
  }
  fs.symlinkSync('20250103-120000', path.join(appDir, 'current'));
}

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
  // Releases made before toes-rev: ids (and versions) share the prefix "2025010".
  madeBefore(w);

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

test('a release log grown long by rollbacks is rewritten one line per release by the next one, with the same history', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  madeBefore(w);
  assert.equal((await w.toes(['rollback', 'sample', '20250102', '--json'])).code, 0);
  // A year of rolling back and forth between the two: two lines each time, as rollback writes them.
  const raw = w.releaseLog();
  const last = (id: string) => ({ ...raw.filter((r) => r.id === id).reduce((a, r) => ({ ...a, ...r }), {}) });
  const [two, three] = [last('20250102-120000'), last('20250103-120000')];
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    const back = i % 2 === 1; // ends as it is: 20250102 live, 20250103 rolled back
    lines.push(JSON.stringify({ ...three, status: back ? 'rolled-back' : 'live' }), JSON.stringify({ ...two, status: back ? 'live' : 'previous' }));
  }
  fs.appendFileSync(w.layout.releaseLog('sample'), lines.join('\n') + '\n');
  const before = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.ok(fs.statSync(w.layout.releaseLog('sample')).size > 64 * 1024);

  const rb = await w.toes(['rollback', 'sample', '20250101', '--json']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(w.liveFile('VERSION'), 'old1');
  const text = fs.readFileSync(w.layout.releaseLog('sample'), 'utf8');
  assert.equal(text.trim().split('\n').length, 3, 'one line per release');
  const after = (await w.toes(['releases', 'sample', '--json'])).json() as { id: string; status: string }[];
  assert.deepEqual(
    after.map((r) => r.id),
    (before as { id: string }[]).map((r) => r.id),
  );
  const status = (x: { id: string; status: string }[]) => Object.fromEntries(x.map((r) => [r.id, r.status]));
  assert.deepEqual(status(before), { '20250101-120000': 'previous', '20250102-120000': 'live', '20250103-120000': 'rolled-back' });
  // The release left is rolled back (moving back), the one before stays as it was.
  assert.deepEqual(status(after), { '20250101-120000': 'live', '20250102-120000': 'rolled-back', '20250103-120000': 'rolled-back' });
  // Rolling back again works on the rewritten log.
  assert.equal((await w.toes(['rollback', 'sample', '20250103', '--json'])).code, 0);
  assert.equal(w.liveFile('VERSION'), 'old3');
});
