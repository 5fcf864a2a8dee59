// The health wait: polls soon after a restart and backs off towards the configured
// interval; a failure names the URL it polled, its last answer, and the setting to check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pauseAfter, waitHealthy } from '../../../src/activate/supervisor/health.js';
import { serve } from '../../fixtures/serve.js';

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
  const h = await waitHealthy(`${base}/ok`, 10_000, 250);
  assert.equal(h.ok, true, h.detail);
  assert.equal(seen, 4);
});

test('a health check that never passes names the URL, the last answer and `health.url`', async (t) => {
  const base = await serve(t, (_req, res) => res.writeHead(404).end('no such route'));
  const h = await waitHealthy(`${base}/health`, 1_000, 250);
  assert.equal(h.ok, false);
  assert.ok(h.detail.includes(`${base}/health`), h.detail);
  assert.match(h.detail, /HTTP 404/);
  assert.match(h.detail, /`health\.url`/);
});
