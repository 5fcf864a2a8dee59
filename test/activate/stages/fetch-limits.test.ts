// A hostile source at the level of a whole deploy: refused with the limit named, nothing
// published, `current` untouched, and the app's lock released for the next command.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { test } from 'node:test';
import { makeWorld, leftovers } from '../../fixtures/world.js';
import { serve } from '../../fixtures/serve.js';
import { makeTar } from '../../fixtures/tar.js';

test('a trickling archive server is cut off at limit.download: LIMIT_EXCEEDED, nothing published, lock released', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const live = w.live();
  const gz = zlib.gzipSync(makeTar([{ path: 'package.json', content: '{"name":"sample"}' }]));
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' });
    let i = 0;
    // One byte every 100 ms: well inside the between-chunks timeout, so only the deadline ends it.
    const timer = setInterval(() => (i < gz.length ? res.write(gz.subarray(i, ++i)) : undefined), 100);
    res.on('close', () => clearInterval(timer));
  });
  const url = `${base}/app.tar.gz`;
  assert.equal((await w.toes(['config', 'set', 'sample', 'limit.download', '1'])).code, 0);
  const r = await w.toes(['deploy', 'sample', '--from', url, '--no-install', '--json']);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.json().error.code, 'LIMIT_EXCEEDED');
  assert.match(r.stderr, /limit\.download/);
  assert.equal(w.live(), live, 'current moved');
  assert.deepEqual(leftovers(w), []);
  assert.equal(fs.existsSync(w.layout.lockDir('sample')), false, 'the lock was left behind');
  // The next command does not wait for anything.
  assert.equal((await w.toes(['rollback', 'sample', '--wait', '0', '--json'])).json().error.code, 'NO_ROLLBACK_TARGET');
});

test('a git server that stops answering is cut off at limit.download while asked for its refs', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const live = w.live();
  w.repo.commit({ VERSION: 'v2\n' });
  assert.equal((await w.toes(['config', 'set', 'sample', 'limit.download', '1'])).code, 0);
  w.server.delayMs = 8000;
  const asked = w.server.requests.length;
  const r = await w.toes(['deploy', 'sample', '--no-install', '--json']);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.json().error.code, 'LIMIT_EXCEEDED');
  assert.match(r.stderr, /limit\.download/);
  // Ended by the deadline, not told afterwards: the client hung up before any answer (the
  // socket's close may reach this process a moment after the command's exit).
  const probe = w.server.requests[asked];
  for (let i = 0; i < 100 && !probe.hungUp; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(probe.hungUp, true, 'the deadline did not end the request');
  assert.equal(w.live(), live, 'current moved');
  assert.equal(fs.existsSync(w.layout.lockDir('sample')), false, 'the lock was left behind');
});
