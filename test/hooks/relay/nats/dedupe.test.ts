// A relay cluster stores a sender's retry once: the dedupe id is the sender's delivery id,
// scoped to the instance and the app and bound to the body, so a retry (same bytes) finds
// the copy stored before, and junk sent first under a guessed delivery id does not keep the
// real webhook out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { dedupeId } from '../../../../src/hooks/relay/nats/layout.js';
import type { NewDelivery } from '../../../../src/hooks/relay/store.js';
import { tmpDir } from '../../../fixtures/cli.js';
import { relayBackends } from '../backends.js';

const hook = (id: string, headers: Record<string, string>, body: string, app = 'shop'): NewDelivery => ({ id, app, at: Date.now(), headers, body: Buffer.from(body) });

test('the dedupe id is the delivery id of each forge, scoped to instance, app and body; without one, the relay id', () => {
  const base = dedupeId('inst0001', hook('rly_a', { 'x-github-delivery': 'd-1' }, '{"a":1}'));
  assert.equal(dedupeId('inst0001', hook('rly_b', { 'x-github-delivery': 'd-1' }, '{"a":1}')), base, 'a retry: same id');
  assert.notEqual(dedupeId('inst0002', hook('rly_b', { 'x-github-delivery': 'd-1' }, '{"a":1}')), base, 'another instance');
  assert.notEqual(dedupeId('inst0001', hook('rly_b', { 'x-github-delivery': 'd-1' }, '{"a":1}', 'blog')), base, 'another app');
  assert.notEqual(dedupeId('inst0001', hook('rly_b', { 'x-github-delivery': 'd-1' }, '{"a":2}')), base, 'other bytes');
  for (const h of ['x-gitea-delivery', 'x-forgejo-delivery', 'x-gogs-delivery', 'webhook-id']) {
    const a = dedupeId('inst0001', hook('rly_a', { [h]: 'd-9' }, '{}'));
    assert.equal(dedupeId('inst0001', hook('rly_b', { [h]: 'd-9' }, '{}')), a, h);
  }
  assert.equal(dedupeId('inst0001', hook('rly_c', {}, '{}')), 'rly_c');
});

test('a sender\'s retry is stored once and answered with the first copy\'s id; junk under the same delivery id does not keep the real one out', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await relayBackends.find((b) => b.name === 'nats')!.open(dir);
  t.after(() => store.close());
  await store.register('inst0001', 'a'.repeat(64));
  const headers = { 'webhook-id': 'msg_2Lx', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,abc' };
  const junk = await store.append('inst0001', hook('rly_junk', headers, '{"forged":true}'));
  const real = await store.append('inst0001', hook('rly_real', headers, '{"real":true}'));
  assert.ok(typeof junk === 'string' && typeof real === 'string' && junk !== real, `two webhooks, two ids: ${junk} ${real}`);
  assert.equal(await store.append('inst0001', hook('rly_retry', headers, '{"real":true}')), real);
  assert.deepEqual((await store.pending('inst0001')).map((w) => w.id), [junk, real]);
  // A retry after the first copy was delivered and removed still names it, and stores nothing.
  assert.equal(await store.settle('inst0001', real!, 'acked'), true);
  assert.equal(await store.append('inst0001', hook('rly_late', headers, '{"real":true}')), real);
  assert.deepEqual((await store.pending('inst0001')).map((w) => w.id), [junk]);
  // Without a sender's delivery id, each is stored under the relay's own id.
  assert.equal(await store.append('inst0001', hook('rly_plain', {}, '{"real":true}')), 'rly_plain');
});
