// Signatures computed here from each host's published scheme, then checked by verifyWebhook.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { secretKey, verifyWebhook } from '../../../src/hooks/serve/verify.js';

const key = randomBytes(32);
const SECRET = `whsec_${key.toString('base64')}`;
const body = Buffer.from(JSON.stringify({ type: 'save', repo: 'me/app', ref: 'refs/heads/main', timestamp: 1 }));
const now = 1_800_000_000;

function standard(id: string, ts: number, b = body, k = key): Record<string, string> {
  const sig = createHmac('sha256', k).update(`${id}.${ts}.`).update(b).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${sig}` };
}

test('Standard Webhooks (rev.host): a good signature passes, with its id and time', () => {
  assert.equal(secretKey(SECRET).equals(key), true);
  const v = verifyWebhook(standard('msg_1', now), body, SECRET, now);
  assert.deepEqual(v, { ok: true, format: 'standard', id: 'msg_1', timestamp: now });
  // Rotation: several signatures, one of them right.
  const h = standard('msg_2', now);
  h['webhook-signature'] = `v1,${Buffer.alloc(32).toString('base64')} ${h['webhook-signature']}`;
  assert.equal(verifyWebhook(h, body, SECRET, now).ok, true);
});

test('Standard Webhooks: wrong key, changed body, stale or future timestamp, missing parts are refused', () => {
  const cases: [Record<string, string>, Buffer, number][] = [
    [standard('m', now, body, randomBytes(32)), body, 401],
    [standard('m', now), Buffer.concat([body, Buffer.from(' ')]), 401],
    [standard('m', now - 301), body, 401],
    [standard('m', now + 301), body, 401],
    [{ ...standard('m', now), 'webhook-timestamp': 'soon' }, body, 400],
    [{ 'webhook-id': 'm', 'webhook-signature': 'v1,abc' }, body, 400],
    [{ ...standard('m', now), 'webhook-signature': 'v2,' + standard('m', now)['webhook-signature'].slice(3) }, body, 401],
  ];
  for (const [h, b, status] of cases) {
    const v = verifyWebhook(h, b, SECRET, now);
    assert.equal(v.ok, false, JSON.stringify(h));
    if (!v.ok) {
      assert.equal(v.status, status, v.reason);
      assert.ok(!v.reason.includes(SECRET) && !v.reason.includes(key.toString('base64')));
    }
  }
});

test('GitHub: X-Hub-Signature-256 over the raw body', () => {
  const secret = 'gh-secret-value';
  const sig = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
  const h = { 'x-hub-signature-256': sig, 'x-github-event': 'push', 'x-github-delivery': 'd-1' };
  assert.deepEqual(verifyWebhook(h, body, secret, now), { ok: true, format: 'github', id: 'd-1', event: 'push' });
  assert.equal(verifyWebhook(h, body, 'other-secret', now).ok, false);
  assert.equal(verifyWebhook({ ...h, 'x-hub-signature-256': 'sha1=abc' }, body, secret, now).ok, false);
  // Re-serialized JSON (what smee does) no longer matches.
  assert.equal(verifyWebhook(h, Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1)), secret, now).ok, false);
});

test('Gitea and Forgejo: hex HMAC in their own headers', () => {
  const secret = 'forge-secret';
  const hex = createHmac('sha256', secret).update(body).digest('hex');
  assert.deepEqual(verifyWebhook({ 'x-gitea-signature': hex, 'x-gitea-event': 'push', 'x-gitea-delivery': 'g1' }, body, secret, now), {
    ok: true,
    format: 'gitea',
    id: 'g1',
    event: 'push',
  });
  assert.equal(verifyWebhook({ 'x-forgejo-signature': hex, 'x-forgejo-event': 'push' }, body, secret, now).ok, true);
  assert.equal(verifyWebhook({ 'x-forgejo-signature': hex.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, body, secret, now).ok, false);
});

test('an unsigned delivery is refused with 401', () => {
  const v = verifyWebhook({ 'content-type': 'application/json' }, body, SECRET, now);
  assert.equal(v.ok, false);
  if (!v.ok) assert.equal(v.status, 401);
});
