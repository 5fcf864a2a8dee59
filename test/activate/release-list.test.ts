// `toes releases` only reads: with a recovery pending it shows the state the next command
// will make, names that command, and changes nothing on disk; `toes deploy --dry-run` names
// the same repairs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeWorld } from '../fixtures/world.js';

/** Every name under the app's directory and its state, with what each link points at. */
function snapshotOf(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) walk(p);
      else out.push(`${p} ${fs.statSync(p).size}`);
    }
  };
  for (const d of dirs) if (fs.existsSync(d)) walk(d);
  return out.sort();
}

test('a plain current directory waiting to be adopted: releases shows it, names the repair, moves nothing', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const cur = w.layout.currentLink('sample');
  fs.mkdirSync(cur, { recursive: true });
  fs.writeFileSync(path.join(cur, 'VERSION'), 'rsynced');
  fs.mkdirSync(w.layout.stagingDir('sample', '20250101-120000'));
  const before = snapshotOf([w.layout.appDir('sample'), w.layout.appState('sample')]);

  const list = await w.toes(['releases', 'sample', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const rels = list.json();
  assert.equal(rels.length, 1);
  assert.deepEqual([rels[0].status, rels[0].live, rels[0].trigger], ['live', true, 'adopt']);
  assert.match(list.stderr, /recovery pending: remove \.staging-20250101-120000, left by an interrupted deploy; adopt the plain directory `current` as release \d{8}-\d{6}\. The next `toes deploy sample` \(or `toes rollback sample`\) does it first\./);
  const text = await w.toes(['releases', 'sample']);
  assert.match(text.stdout, /^recovery pending: .*`toes deploy sample`/m);
  // A deploy's dry run names the same repairs, as what it would do first, and makes none.
  const dry = await w.toes(['deploy', 'sample', '--from', w.url, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /^toes: note: a deploy would first remove \.staging-20250101-120000, left by an interrupted deploy; adopt the plain directory `current` as release \d{8}-\d{6}\.$/m);

  assert.ok(fs.lstatSync(cur).isDirectory(), 'current is still the plain directory');
  assert.deepEqual(snapshotOf([w.layout.appDir('sample'), w.layout.appState('sample')]), before);
  assert.equal(fs.existsSync(w.layout.releaseLog('sample')), false);

  // The next deploy performs the repair before anything else.
  const d = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(fs.lstatSync(cur).isSymbolicLink());
  const after = await w.toes(['releases', 'sample', '--json']);
  assert.deepEqual(
    after.json().map((r: any) => [r.trigger, r.status]),
    [
      ['adopt', 'previous'],
      ['cli', 'live'],
    ],
  );
  assert.doesNotMatch(after.stderr, /recovery pending/);
});

test('current removed by hand: releases shows what the next command points it at, and leaves it missing', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const r1 = (await w.toes(['deploy', 'sample', '--from', w.url, '--json'])).json();
  fs.rmSync(w.layout.currentLink('sample'));
  const log = fs.readFileSync(w.layout.releaseLog('sample'), 'utf8');

  const list = await w.toes(['releases', 'sample', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    list.json().map((r: any) => [r.id, r.live]),
    [[r1.release, true]],
  );
  assert.match(list.stderr, new RegExp(`recovery pending: point the missing \`current\` back at release ${r1.release}`));
  assert.equal(w.live(), undefined);
  assert.equal(fs.readFileSync(w.layout.releaseLog('sample'), 'utf8'), log);

  const rb = await w.toes(['rollback', 'sample', '--json']);
  assert.equal(rb.json().error.code, 'NO_ROLLBACK_TARGET');
  assert.equal(w.live(), r1.release);
});
