// Deploy events: signed the Standard Webhooks way (checked against signatures computed with
// openssl, and by a receiver verifying them as the specification says), retried with the same
// webhook-id, reported failed after their retries, never following a redirect; ntfy gets a
// readable notification.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import type { OpResult } from '../../../src/activate/result.js';
import { ntfyRequest, outcomeEvents, signedRequest } from '../../../src/hooks/notify/events.js';
import { list, newItem, put } from '../../../src/hooks/notify/outbox.js';
import { readNotifyState } from '../../../src/hooks/notify/outcomes.js';
import { addReceiver, checkReceiverUrl, readReceivers } from '../../../src/hooks/notify/receivers.js';
import { noteOutcome } from '../../../src/hooks/notify/record.js';
import { Sender } from '../../../src/hooks/notify/sender.js';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { tmpDir } from '../../fixtures/cli.js';
import { serve } from '../../fixtures/serve.js';
import { eventReceiver, type Receiver } from './servers.js';

function layoutFor(t: TestContext): Layout {
  const data = tmpDir('toes-rev-notify-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  return new Layout(resolveRoots({ dataDir: data }, {}));
}

const failed: OpResult = {
  ok: false,
  op: 'deploy',
  app: 'sample',
  release: '20261206-000001',
  commit: 'c'.repeat(40),
  version: 'c'.repeat(40),
  previous: '20261206-000000',
  status: 'failed',
  stages: [],
  failedStage: 'verify',
  error: { code: 'UNHEALTHY', message: 'The new release did not answer GET /ok in 30 s; rolled back to 20261206-000000.' },
  durationMs: 5,
};

async function drain(layout: Layout, delays = '20,20'): Promise<void> {
  process.env.TOES_REV_NOTIFY_RETRY_MS = delays;
  await new Sender(layout, () => {}, { idleExitMs: 2_000 }).runUntilIdle();
}

async function added(layout: Layout, r: Receiver): Promise<void> {
  r.secret = (await addReceiver(layout, { global: false, app: 'sample' }, `${r.url}/hook`)).secret;
}

// Written here: each signature was computed outside this code, with
// `printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64`.
// (scripts/check-vectors.mjs also checks the signer against the Standard Webhooks project's own vectors.)
const SIGNED = [
  {
    secret: 'whsec_dG9lcy1yZXYgbm90aWZ5IHZlY3RvciBrZXkgMjAyNiE=',
    id: 'msg_toesrev_notify_1',
    ts: 1796515200,
    body: '{"type":"deploy.succeeded","timestamp":"2026-12-06T00:00:00.000Z","data":{"app":"sample","release":"20261206-000000"}}',
    signature: 'v1,OTb3TpJPacmf+poSbzDbY45YvXSADe13yDwHdbavuzw=',
  },
  {
    secret: 'whsec_dG9lcy1yZXYgbm90aWZ5IHZlY3RvciBrZXkgMjAyNiE=',
    id: 'msg_2',
    ts: 1796515260,
    body: '{"data":{"reason":"prédéploy a échoué ✗"}}',
    signature: 'v1,ztBdVaJkRS/hz1BgBaWjVyxkIOUFs+UTkej0BruNnms=',
  },
];

test('the signer gives the Standard Webhooks signature: HMAC-SHA256 of id.timestamp.body with the whsec_ key, in base64', () => {
  for (const v of SIGNED) {
    const req = signedRequest('https://x.example/', v.id, v.body, v.secret, v.ts);
    assert.equal(req.headers['webhook-signature'], v.signature, v.id);
    assert.equal(req.headers['webhook-id'], v.id);
    assert.equal(req.headers['webhook-timestamp'], String(v.ts));
    assert.equal(req.body, v.body);
  }
});

test('an automatic flip-back is a deploy.failed and a deploy.rolled_back, in Standard Webhooks\' shape, verified by the receiver', async (t) => {
  const layout = layoutFor(t);
  const r = await eventReceiver(t);
  await added(layout, r);
  await noteOutcome(layout, failed, { trigger: 'webhook d1' });
  await drain(layout);
  assert.deepEqual(r.received.map((x) => [x.body.type, x.verified]), [['deploy.failed', true], ['deploy.rolled_back', true]]);
  const [f, rb] = r.received.map((x) => x.body);
  assert.deepEqual(Object.keys(f).sort(), ['data', 'timestamp', 'type']);
  assert.equal(f.data.app, 'sample');
  assert.equal(f.data.commit, 'c'.repeat(40));
  assert.equal(f.data.release, '20261206-000001');
  assert.match(f.data.reason, /rolled back/);
  assert.equal(rb.data.automatic, true);
  assert.equal(rb.data.release, '20261206-000000');
  assert.match(r.received[0].id, /^msg_/);
  assert.notEqual(r.received[0].id, r.received[1].id);
});

test('a flaky receiver (500, then 200) gets the same webhook-id again; a failing one is reported failed after its retries', async (t) => {
  const layout = layoutFor(t);
  const flaky = await eventReceiver(t, 'flaky');
  await added(layout, flaky);
  await noteOutcome(layout, { ...failed, ok: true, status: 'live', error: undefined, failedStage: undefined }, { trigger: 'cli' });
  await drain(layout);
  assert.equal(flaky.received.length, 2);
  assert.equal(flaky.received[0].id, flaky.received[1].id);
  assert.ok(flaky.received.every((x) => x.verified && x.body.type === 'deploy.succeeded'));
  assert.equal((await readNotifyState(layout, 'sample')).targets[0].outcome, 'sent');

  flaky.mode = 'fail';
  await noteOutcome(layout, { ...failed, ok: true, status: 'live', error: undefined, failedStage: undefined, release: 'r2' }, { trigger: 'cli' });
  await drain(layout);
  const ids = new Set(flaky.received.slice(2).map((x) => x.id));
  assert.equal(flaky.received.length, 2 + 3, 'one attempt and two retries');
  assert.equal(ids.size, 1);
  const state = await readNotifyState(layout, 'sample');
  assert.equal(state.failures.at(-1)?.outcome, 'failed');
  assert.match(state.failures.at(-1)!.reason!, /answered 500.*gave up after 3 attempts/);
  assert.ok(!JSON.stringify(state).includes(`${flaky.url}/hook`), 'the receiver URL is in the state unmasked');
  assert.deepEqual(await list(layout), []);
});

test('a redirect is not followed and fails at once; a receiver URL with credentials is refused', async (t) => {
  const layout = layoutFor(t);
  let elsewhere = 0;
  const other = await serve(t, (_q, s) => {
    elsewhere++;
    s.end();
  });
  const r = await eventReceiver(t, 'redirect');
  await added(layout, r);
  await noteOutcome(layout, failed, { trigger: 'cli' });
  await drain(layout);
  assert.equal(elsewhere, 0, `followed a redirect to ${other}`);
  assert.equal(r.received.length, 2, 'retried a redirect');
  assert.match((await readNotifyState(layout, 'sample')).failures.at(-1)!.reason!, /redirect, which is not followed/);
  assert.throws(() => checkReceiverUrl('https://user:pw@example.com/x'), { code: 'USAGE' });
  assert.throws(() => checkReceiverUrl('ftp://example.com/x'), { code: 'USAGE' });
});

test('ntfy: a readable notification, high priority for a failure, with the page as its click link', () => {
  const [f] = outcomeEvents(failed, 'cli', new Date(0), 'https://toes.example.net/apps/sample');
  const req = ntfyRequest('ntfy://ntfy.example.net/deploys', f, 'msg_1');
  assert.equal(req.url, 'https://ntfy.example.net/');
  const body = JSON.parse(req.body);
  assert.equal(body.topic, 'deploys');
  assert.equal(body.title, 'sample: deploy failed');
  assert.equal(body.priority, 4);
  assert.equal(body.click, 'https://toes.example.net/apps/sample');
  assert.match(body.message, /did not answer GET \/ok/);
  const [ok] = outcomeEvents({ ...failed, ok: true, status: 'live', error: undefined }, 'cli', new Date(0));
  assert.equal(JSON.parse(ntfyRequest('https://ntfy.sh/t', ok, 'msg_2').body).priority, 3);
  assert.equal(ntfyRequest('ntfy://127.0.0.1:8080/t', ok, 'msg_3').url, 'http://127.0.0.1:8080/');
});

test('an ntfy receiver gets the notification through the sender: JSON to the server\'s root, with its topic', async (t) => {
  const layout = layoutFor(t);
  const got: { path: string; body: any }[] = [];
  const ntfy = await serve(t, (req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(b) });
      res.end('{}');
    });
  });
  await addReceiver(layout, { global: true }, `ntfy://${new URL(ntfy).host}/deploys`);
  await noteOutcome(layout, failed, { trigger: 'cli' });
  await drain(layout);
  assert.deepEqual(got.map((g) => [g.path, g.body.topic, g.body.title]), [
    ['/', 'deploys', 'sample: deploy failed'],
    ['/', 'deploys', 'sample: rolled back'],
  ]);
  assert.equal(got[0].body.priority, 4);
});

test('a message older than 24 h is reported failed after its next failed attempt', async (t) => {
  const layout = layoutFor(t);
  const r = await eventReceiver(t, 'fail');
  await added(layout, r);
  const item = newItem('sample', 'lane', { kind: 'event', receiver: (await readReceivers(layout, { global: false, app: 'sample' }))[0].id, global: false, event: outcomeEvents(failed, 'cli', new Date(0))[0], body: '{}' }, Date.now() - 25 * 3_600_000);
  await put(layout, [item]);
  await drain(layout, '20,20,20,20');
  assert.equal(r.received.length, 1);
  assert.equal((await readNotifyState(layout, 'sample')).failures.at(-1)?.outcome, 'failed');
  assert.deepEqual(await list(layout), []);
});
