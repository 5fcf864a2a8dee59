// The CLI also runs under Bun (what a Toes server has).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeWorld } from '../fixtures/world.js';

test('deploy and rollback with the CLI running under Bun', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const d1 = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { bun: true });
  assert.equal(d1.code, 0, d1.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  w.repo.commit({ 'VERSION': 'v2\n' });
  const d2 = await w.toes(['deploy', 'sample', '--json'], { bun: true });
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal(d2.json().previous, d1.json().release);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  const rb = await w.toes(['rollback', 'sample', '--json'], { bun: true });
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  const list = await w.toes(['releases', 'sample', '--json'], { bun: true });
  assert.deepEqual(
    list.json().map((r: any) => r.status),
    ['live', 'rolled-back'],
  );
});
