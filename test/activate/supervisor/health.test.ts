// The health wait: polls soon after a restart and backs off towards the configured
// interval; a failure names the URL it polled, its last answer, and the setting to check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pauseAfter, waitHealthy } from '../../../src/activate/supervisor/health.js';
import { serve } from '../../fixtures/serve.js';
import { makeWorld } from '../../fixtures/world.js';

test('the pauses between polls start at 5 ms and double up to the interval', () => {
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => pauseAfter(i, 250)),
    [5, 10, 20, 40, 80, 160, 250, 250],
  );
  assert.equal(pauseAfter(0, 2), 2, 'an interval below the first pause is kept');
  assert.equal(pauseAfter(1000, 250), 250);
});

test('an app that answers after a few refusals is healthy at the first 2xx', async (t) => {
  let seen = 0;
  const base = await serve(t, (_req, res) => {
    seen++;
    res.writeHead(seen < 4 ? 503 : 200).end();
  });
  const h = await waitHealthy(`${base}/ok`, 10_000, 250, 'web');
  assert.equal(h.ok, true, h.detail);
  assert.equal(seen, 4);
});

test('a health check that never passes names the URL, the last answer and `health.url`', async (t) => {
  const base = await serve(t, (_req, res) => res.writeHead(404).end('no such route'));
  const h = await waitHealthy(`${base}/health`, 1_000, 250, 'web');
  assert.equal(h.ok, false);
  assert.ok(h.detail.includes(`${base}/health`), h.detail);
  assert.match(h.detail, /HTTP 404/);
  assert.match(h.detail, /`health\.url`/);
  assert.ok(h.detail.includes('`toes config get web health.url`'), h.detail);
});

test('a deploy whose health check fails names the release, the app and the command that shows health.url, once', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--json']);
  assert.equal(first.code, 0, first.stderr);
  for (const [k, v] of [['supervisor', 'command'], ['restart', 'true'], ['health.url', 'http://127.0.0.1:1/ok'], ['health.timeout', '1']]) {
    assert.equal((await w.toes(['config', 'set', 'sample', k, v])).code, 0);
  }
  w.repo.commit({ VERSION: 'v2\n' });
  const r = await w.toes(['deploy', 'sample', '--no-install', '--json']);
  assert.equal(r.code, 1);
  const { code, message } = r.json().error;
  assert.equal(code, 'UNHEALTHY');
  const id = r.json().release;
  assert.ok(message.startsWith(`Release ${id} of sample was not accepted: it did not become healthy: no 2xx from http://127.0.0.1:1/ok within 1s (the last time it did not answer: ECONNREFUSED)`), message);
  assert.ok(message.includes('`toes config get sample health.url`'), message);
  // The release flipped back to fails the same way: said in a clause, not the sentence again.
  assert.ok(message.includes(`Rolled back by itself: ${first.json().release} is live again but is not healthy either: it did not become healthy: no 2xx`), message);
  assert.equal(message.split('if the app is running').length, 2, message);
  assert.equal(w.live(), first.json().release);
});
