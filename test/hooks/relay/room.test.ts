// `toes relay` as a real process, with nobody connected: what it stores of junk and of
// floods. Unsigned posts are refused and never stored; a full queue keeps the newest; one
// app's flood cannot push out another app's webhooks.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import { overfull } from '../../../src/hooks/relay/room.js';
import { tmpDir } from '../../fixtures/cli.js';
import { ensureStopped, github, gitea, post, standard, startRelay, type Daemon } from '../../fixtures/hooks.js';
import { relayTest } from './backends.js';

async function registerInstance(relay: string): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const secretHash = createHash('sha256').update(randomBytes(24)).digest('hex');
  const r = await fetch(`${relay}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash }) });
  assert.equal(r.status, 201);
  return id;
}

/** Signed with a secret the relay cannot know: well-formed, which is all the relay can judge. */
const signed = () => standard('whsec_' + randomBytes(24).toString('base64'), { type: 'save', ref: 'refs/heads/main' });

relayTest('unsigned or badly signed posts are refused with 401 and not stored; each signed format is taken', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--max-pending', '40'] });
  const id = await registerInstance(r.url);
  const path = `/hooks/${id}/app`;
  const json = { 'content-type': 'application/json' };
  const junk = [
    { headers: json, body: Buffer.from('{}') },
    { headers: { ...json, 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,not-base64!' }, body: Buffer.from('{}') },
    { headers: { ...json, 'webhook-id': 'msg_1', 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}` }, body: Buffer.from('{}') },
    { headers: { ...json, 'x-hub-signature-256': 'sha256=abc' }, body: Buffer.from('{}') },
    { headers: { ...json, 'x-hub-signature': `sha1=${'0'.repeat(40)}` }, body: Buffer.from('{}') },
    { headers: { ...json, 'x-gitea-signature': 'zz'.repeat(32) }, body: Buffer.from('{}') },
  ];
  for (let i = 0; i < 40; i++) {
    const res = await post(r.url, path, junk[i % junk.length]);
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.match(res.body.message, /not a signed webhook/);
  }
  assert.equal((await (await fetch(`${r.url}/health`)).json()).pending, 0);

  const taken = [signed(), github('s', 'push', { ref: 'refs/heads/main' }), gitea('s', 'push', { ref: 'refs/heads/main' }), gitea('s', 'push', {}, { forgejo: true })];
  for (const d of taken) assert.equal((await post(r.url, path, d)).status, 202);
  assert.equal((await (await fetch(`${r.url}/health`)).json()).pending, 4);
  assert.equal((await r.stop()).code, 0);

  const store = await backend.open(dir);
  t.after(() => store.close());
  assert.equal((await store.counts(id)).waiting, 4);
});

relayTest('a full queue keeps the newest, and one app\'s flood leaves another app\'s webhooks alone', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--max-pending', '8', '--max-pending-app', '6'] });
  const id = await registerInstance(r.url);
  const send = async (app: string) => {
    const res = await post(r!.url, `/hooks/${id}/${app}`, signed());
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const quiet: string[] = [];
  for (let i = 0; i < 3; i++) quiet.push(await send('quiet'));
  const noisy: string[] = [];
  for (let i = 0; i < 40; i++) noisy.push(await send('noisy'));
  // noisy is held to 6 by its own cap, then to 5 so the instance fits in 8: its newest.
  assert.equal((await (await fetch(`${r.url}/health`)).json()).pending, 8);
  const dropped = r.events().filter((e) => e.event === 'dropped');
  assert.equal(dropped.length, 35);
  assert.ok(dropped.every((e) => e.app === 'noisy'));
  assert.equal((await r.stop()).code, 0);

  const store = await backend.open(dir);
  t.after(() => store.close());
  assert.deepEqual((await store.pending(id, Infinity, 'quiet')).map((w) => w.id), quiet);
  assert.deepEqual((await store.pending(id, Infinity, 'noisy')).map((w) => w.id), noisy.slice(-5));
});

test('what gives way: an app over its own cap; when the instance is full, the app holding the most; a tie, the app that just grew', () => {
  const counts = (apps: Record<string, number>) => {
    const c = Object.fromEntries(Object.entries(apps).map(([a, n]) => [a, { waiting: n, bytes: n * 100 }]));
    const waiting = Object.values(apps).reduce((x, y) => x + y, 0);
    return { waiting, bytes: waiting * 100, apps: c };
  };
  const limits = { maxPending: 10, maxBytes: 10_000, maxPerApp: 5 };
  assert.equal(overfull(counts({ a: 5, b: 5 }), 'a', limits), undefined);
  assert.equal(overfull(counts({ a: 6, b: 1 }), 'a', limits), 'a');
  assert.equal(overfull(counts({ a: 2, b: 5, c: 4 }), 'a', limits), 'b');
  assert.equal(overfull(counts({ a: 4, b: 4, c: 3 }), 'c', limits), 'a');
  assert.equal(overfull(counts({ a: 4, b: 3, c: 4 }), 'c', limits), 'c');
  assert.equal(overfull(counts({ a: 3, b: 2 }), 'b', { ...limits, maxBytes: 400 }), 'a');
});
