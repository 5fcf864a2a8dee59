// kill -9 of the deploying process at each phase, then a new deploy: `current` always
// resolves to a complete release and the next deploy succeeds with no manual cleanup.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startUntil } from '../fixtures/cli.js';
import { appFiles } from '../fixtures/repo.js';
import { makeWorld, leftovers } from '../fixtures/world.js';

const PHASES = ['fetch', 'fetched', 'materialize', 'install', 'predeploy', 'swap'];

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

    // releases notices the interrupted deploy (its owner is dead) and repairs the log.
    const list = await w.toes(['releases', 'sample', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rels = list.json();
    assert.equal(rels.find((r: any) => r.live).id, r1);
    assert.ok(!rels.some((r: any) => r.status === 'building'), JSON.stringify(rels));
    assert.deepEqual(leftovers(w), []);
    assert.equal(fs.existsSync(path.join(w.data, 'rev/apps/sample/lock')), false);

    const posts = () => w.server.requests.filter((r) => r.method === 'POST').length;
    const before = posts();
    const next = await w.toes(['deploy', 'sample', '--json']);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(next.json().version, c2);
    // The store never claims contents it did not keep, and keeps what it has: at most one
    // pack request (none once the contents were stored), never a second, whole-snapshot one.
    assert.ok(posts() - before <= 1, `${posts() - before} pack requests`);
    assert.ok(next.json().bytesFetched < 100_000, `${next.json().bytesFetched} bytes`);
    assert.equal(w.liveFile('VERSION'), 'v2\n');
    assert.equal(w.liveFile('src/f49.txt'), 'file 49\n');
    assert.equal(w.liveFile('built.txt'), 'built\n');
    assert.deepEqual(leftovers(w), []);
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
  const rels = (await w.toes(['releases', 'sample', '--json'])).json();
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
