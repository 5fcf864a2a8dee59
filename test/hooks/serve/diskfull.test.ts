// A full disk under `toes serve` (a small tmpfs as DATA_DIR; needs root, as CI runs): a
// webhook that cannot be queued is refused with 503, nothing half-written stays in the
// queue, and once there is room again deliveries are queued and deployed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tmpfs } from '../../fixtures/cli.js';
import { ensureStopped, post, standard, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { layoutOf } from '../layout.js';
import { hookedWorld } from './hooked-world.js';

test('a full disk: the webhook gets 503 and is not accepted; with room again it deploys', async (t) => {
  const mnt = tmpfs(t);
  const { w, secret } = await hookedWorld(t, { data: mnt });
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(mnt);
  const queue = layoutOf(mnt).queueFile;
  const before = fs.readFileSync(queue);

  const filler = path.join(mnt, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  fs.closeSync(fd);
  w.repo.commit({ VERSION: 'v2\n' });
  const refused = await post(d.url, '/hooks/sample', standard(secret, { type: 'save', ref: 'refs/heads/main' }));
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.match(refused.body.message, /ENOSPC/);
  assert.ok(fs.readFileSync(queue).equals(before), 'a refused event left bytes in the queue');
  assert.ok(!d.events().some((e) => e.event === 'deploying'));

  // The host sends it again once there is room: queued and deployed.
  fs.rmSync(filler);
  const again = await post(d.url, '/hooks/sample', standard(secret, { type: 'save', ref: 'refs/heads/main' }, { id: refused.body.id }));
  assert.equal(again.status, 202, JSON.stringify(again.body));
  const done = await d.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy');
  assert.equal(done.event, 'deployed', d.out());
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  assert.equal((await d.stop()).code, 0);
  // The journal reads back whole.
  for (const line of fs.readFileSync(queue, 'utf8').split('\n').filter(Boolean)) JSON.parse(line);
});
