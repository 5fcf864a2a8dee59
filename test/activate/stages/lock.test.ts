import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startUntil } from '../../fixtures/cli.js';
import { makeWorld } from '../../fixtures/world.js';

test('a second deploy while one runs says who holds the lock, or waits for it', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  await w.toes(['deploy', 'sample', '--from', w.url]);
  w.repo.commit({ 'VERSION': 'v2\n' });
  const holder = startUntil(w.data, ['deploy', 'sample'], 'failpoint install reached', { env: { TOES_REV_FAILPOINT: 'install' } });
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.reached;

  const busy = await w.toes(['deploy', 'sample', '--wait', '0', '--json']);
  assert.equal(busy.code, 1);
  const err = busy.json().error;
  assert.equal(err.code, 'LOCKED');
  assert.match(err.message, new RegExp(`pid ${holder.child.pid}`));
  assert.match(err.message, /deploy \(cli\)/);
  const rb = await w.toes(['rollback', 'sample', '--wait', '0', '--json']);
  assert.equal(rb.json().error.code, 'LOCKED');

  // releases still answers while the app is busy, from the log as it stands.
  const list = await w.toes(['releases', 'sample', '--json']);
  assert.equal(list.code, 0);
  assert.equal(list.json().at(-1).status, 'building');

  // A waiting deploy goes ahead once the holder is gone (killed: its lock is stale).
  const waiting = w.toes(['deploy', 'sample', '--wait', '30', '--json']);
  await new Promise((r) => setTimeout(r, 500));
  holder.child.kill('SIGKILL');
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
});

test('a lock left by a dead process is recovered without manual cleanup', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const lock = w.layout.lockDir('sample');
  fs.mkdirSync(lock, { recursive: true });
  // pid 2^22+1 is above the default pid_max: never a live process.
  fs.writeFileSync(path.join(lock, 'owner.json'), JSON.stringify({ pid: 4194305, host: (await import('node:os')).hostname(), command: 'deploy (cli)', startedAt: new Date().toISOString(), token: 'x' }));
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--wait', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(lock), false);
});
