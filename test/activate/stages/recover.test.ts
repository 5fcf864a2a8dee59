// The recover stage: kill -9 of the deploying process at each phase, then a new deploy:
// `current` always resolves to a complete release and the next deploy succeeds with no
// manual cleanup. Releases made before toes-rev (Toes' own timestamp dirs, an rsync
// deploy.sh's plain `current` directory) are adopted so that rollback to them works.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startUntil } from '../../fixtures/cli.js';
import { appFiles } from '../../fixtures/repo.js';
import { makeWorld, leftovers } from '../../fixtures/world.js';

const PHASES = ['fetch', 'fetched', 'materialize', 'install', 'predeploy', 'swap'];
/**
 * Phases that leave something on disk to repair (a fetch's prepared tree, a `building`
 * release, its staging tree, a journal).
 */
const LEAVES_REPAIRS = new Set(['fetched', 'materialize', 'install', 'predeploy', 'swap']);

for (const phase of PHASES) {
  test(`kill -9 during ${phase}: current stays whole and the next deploy recovers by itself`, async (t) => {
    // A large file that never changes: a whole-snapshot refetch would show in the bytes.
    const files: Record<string, string> = { ...appFiles('v1'), 'assets/big.txt': crypto.randomBytes(150_000).toString('hex') };
    files['package.json'] = JSON.stringify({ name: 'sample', scripts: { toes: 'bun index.ts', predeploy: 'echo built > built.txt' } });
    const w = await makeWorld({ files });
    t.after(() => w.close());
    const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const r1 = first.json().release;

    // Enough files that the materialize failpoint (half way) has work on both sides.
    const many: Record<string, string> = { 'VERSION': 'v2\n' };
    for (let i = 0; i < 50; i++) many[`src/f${i}.txt`] = `file ${i}\n`;
    const c2 = w.repo.commit(many);

    const p = startUntil(w.data, ['deploy', 'sample'], `failpoint ${phase} reached`, { env: { TOES_REV_FAILPOINT: phase } });
    await p.reached;
    p.child.kill('SIGKILL');
    await p.closed;

    // current still names the complete first release.
    assert.equal(w.live(), r1);
    assert.equal(w.liveFile('VERSION'), 'v1\n');
    assert.equal(w.liveFile('built.txt'), 'built\n');

    // releases notices the interrupted deploy (its owner is dead): it shows the log as the
    // next command will repair it, and says that repair is pending.
    const list = await w.toes(['releases', 'sample', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rels = list.json();
    assert.equal(rels.find((r: any) => r.live).id, r1);
    assert.ok(!rels.some((r: any) => r.status === 'building'), JSON.stringify(rels));
    if (LEAVES_REPAIRS.has(phase)) assert.match(list.stderr, /recovery pending: .*`toes deploy sample`/);
    else assert.doesNotMatch(list.stderr, /recovery pending/);

    const posts = () => w.server.requests.filter((r) => r.method === 'POST').length;
    const before = posts();
    const next = await w.toes(['deploy', 'sample', '--json']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.json().version, c2);
    // The store never claims contents it did not keep, and keeps what it has: one pack
    // request when the kill came before materialize stored the new contents (they wait in
    // the fetch's prepared tree until then), none after; never a whole-snapshot one.
    assert.equal(posts() - before, phase === 'fetch' || phase === 'fetched' ? 1 : 0, `${phase}: ${posts() - before} pack requests`);
    assert.ok(next.json().bytesFetched < 100_000, `${next.json().bytesFetched} bytes`);
    assert.equal(w.liveFile('VERSION'), 'v2\n');
    assert.equal(w.liveFile('src/f49.txt'), 'file 49\n');
    assert.equal(w.liveFile('built.txt'), 'built\n');
    assert.deepEqual(leftovers(w), []);
    assert.equal(fs.existsSync(w.layout.lockDir('sample')), false);
  });
}

test('kill -9 after the swap but before the log is written: the swap stands and is recorded as live', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  await w.toes(['deploy', 'sample', '--from', w.url]);
  w.repo.commit({ 'VERSION': 'v2\n' });
  const p = startUntil(w.data, ['deploy', 'sample'], 'failpoint record reached', { env: { TOES_REV_FAILPOINT: 'record' } });
  await p.reached;
  p.child.kill('SIGKILL');
  await p.closed;
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  const list = await w.toes(['releases', 'sample', '--json']);
  // The swapped release was never checked: releases says so, the next command does it.
  assert.match(list.stderr, /recovery pending: restart and health-check release/);
  const rels = list.json();
  assert.deepEqual(
    rels.map((r: any) => [r.status, r.live]),
    [
      ['previous', false],
      ['live', true],
    ],
  );
  const back = await w.toes(['rollback', 'sample', '--json']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
});

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
