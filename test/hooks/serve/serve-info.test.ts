// Whether `toes serve` runs, as `toes webhook status` tells it, after a kill -9 and the
// daemon's pid taken by another process: serve.json's pid is alive, but not the daemon.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ensureStopped, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { layoutOf } from '../layout.js';
import { hookedWorld } from './hooked-world.js';

test('after a kill -9 and the pid reused, `webhook status` says the daemon is not running', async (t) => {
  const { w } = await hookedWorld(t);
  const layout = layoutOf(w.data);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  assert.equal((await w.toes(['webhook', 'status', 'sample', '--json'])).json().daemon?.pid, d.pid);
  await d.kill9();

  // Another process now has "the daemon's" pid: what serve.json and the lock's note say.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  const rewrite = (file: string) => fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), pid: other.pid }));
  rewrite(layout.serveFile);
  rewrite(path.join(layout.serveLock, 'owner.json'));

  const st = await w.toes(['webhook', 'status', 'sample', '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(st.json().daemon, null);
  const text = await w.toes(['webhook', 'status', 'sample']);
  assert.match(text.stdout, /daemon:\s+not running/);

  // The next daemon starts (the lock is recovered) and is seen running.
  d = await startDaemon(w.data);
  assert.equal((await w.toes(['webhook', 'status', 'sample', '--json'])).json().daemon?.pid, d.pid);
  assert.equal((await d.stop()).code, 0);
});
