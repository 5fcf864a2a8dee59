// The link hub's own bookkeeping, in process with a real WebSocket link: what it keeps per
// webhook is bounded whatever happens to the webhooks.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { LinkHub } from '../../../src/hooks/relay/hub.js';
import { FileRelayStore } from '../../../src/hooks/relay/file/store.js';
import { tmpDir } from '../../fixtures/cli.js';

/** A hub on a file store with one instance linked over a real WebSocket; its log is kept. */
async function linked(t: TestContext, wsOptions: WebSocket.ClientOptions = {}) {
  const dir = tmpDir('toes-hub-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await FileRelayStore.open(dir);
  const id = 'inst0000hub';
  const secret = randomBytes(24).toString('base64url');
  await store.register(id, createHash('sha256').update(secret).digest('hex'));
  const events: { event: string; fields?: Record<string, unknown> }[] = [];
  const hub = new LinkHub(store, (event, fields) => events.push({ event, fields }));
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => void hub.upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/connect`, { ...wsOptions, headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id } });
  // node:test runs after-hooks in the order they were added: one, in the order that ends.
  t.after(async () => {
    ws.terminate();
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  const waitFor = async (pred: (e: (typeof events)[number]) => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!events.some(pred)) {
      if (Date.now() > deadline) throw new Error(`no such event in ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { store, hub, ws, id, events, waitFor };
}

test('webhooks accepted while their instance is linked and never acked here (dropped, expired, acked on another node) are not remembered for good', async (t) => {
  const { hub, id } = await linked(t);
  assert.equal(hub.connected, 1);
  // What the relay's routes do for each webhook: accepted, then dropped to make room.
  for (let i = 0; i < 30_000; i++) hub.accepted(id, `rly_${i}`);
  for (let i = 0; i < 1_000; i++) hub.forget(id, `rly_${29_999 - i}`);
  const timed = (hub as unknown as { acceptedAt: Map<string, number> }).acceptedAt;
  assert.ok(timed.size <= 10_000, `${timed.size} webhooks still timed`);
  assert.ok(!timed.has('rly_29999'));
});

test('an instance cannot make the relay keep an app list larger than an instance ever sends', async (t) => {
  const { store, ws, id, waitFor } = await linked(t);
  const huge = Array.from({ length: 9_000 }, (_, i) => `${'a'.repeat(94)}${String(i).padStart(6, '0')}`);
  ws.send(JSON.stringify({ type: 'apps', names: huge }));
  await waitFor((e) => e.event === 'bad-frame' || e.event === 'apps');
  assert.equal(await store.apps(id), undefined);
  // One the size an instance sends is kept.
  ws.send(JSON.stringify({ type: 'apps', names: huge.slice(0, 500) }));
  await waitFor((e) => e.event === 'apps');
  assert.equal((await store.apps(id))?.size, 500);
});

test('webhooks delivered one at a time cost the instance one frame each: no "none left" after an ack the delivery already said', async (t) => {
  const { store, hub, ws, id, waitFor } = await linked(t);
  // The hello may come before or after this listener: it is left out below.
  const frames: { type: string; id?: string; pending?: number; count?: number }[] = [];
  ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString());
    frames.push(f);
    if (f.type === 'delivery') ws.send(JSON.stringify({ type: 'ack', id: f.id, status: 202, verdict: 'accepted' }));
  });
  // What the client makes of the frames (relay-link/client.ts): the count it shows.
  const shown = () => frames.reduce((n, f) => (f.type === 'delivery' ? Math.max(0, (f.pending ?? 1) - 1) : f.type === 'pending' ? (f.count ?? 0) : f.type === 'hello' ? (f.pending ?? 0) : n), 0);
  for (let i = 0; i < 5; i++) {
    await store.append(id, { id: `rly_one${i}`, app: 'sample', at: Date.now(), headers: {}, body: Buffer.from('{}') });
    hub.wake(id);
    await waitFor((e) => e.event === 'acked' && e.fields?.id === `rly_one${i}`);
    assert.equal(shown(), 0, `after webhook ${i}`);
  }
  // A moment for any frame an ack would still cause.
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(frames.map((f) => f.type).filter((x) => x !== 'hello'), Array(5).fill('delivery'));
  assert.equal(shown(), 0);
  assert.equal((await store.counts(id)).waiting, 0);
});

test('heartbeats ping an idle link and tell it nothing it already knows', async (t) => {
  const { hub, ws } = await linked(t);
  const frames: string[] = [];
  let pings = 0;
  ws.on('message', (raw) => frames.push(JSON.parse(raw.toString()).type));
  ws.on('ping', () => pings++);
  const beats = hub.heartbeats(40);
  t.after(() => beats.undo?.());
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(pings >= 3, `${pings} pings`);
  assert.deepEqual(frames.filter((x) => x !== 'hello'), []);
  assert.equal(ws.readyState, ws.OPEN);
});

test('an instance that pings the relay each interval is not pinged back, and its link stays', async (t) => {
  const { hub, ws, events } = await linked(t);
  let pings = 0;
  ws.on('ping', () => pings++);
  // The instance pings a little more often than the relay beats, as a real one does on its own period.
  const own = setInterval(() => ws.ping(), 30);
  t.after(() => clearInterval(own));
  await new Promise((r) => setTimeout(r, 40));
  const beats = hub.heartbeats(60);
  t.after(() => beats.undo?.());
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(pings <= 1, `${pings} pings from the relay`);
  assert.equal(ws.readyState, ws.OPEN);
  assert.equal(events.filter((e) => e.event === 'dead-link').length, 0);
});

test('a link that answers no ping is dropped within two intervals; one whose instance pinged, then went silent, within three', async (t) => {
  for (const pingsFirst of [false, true]) {
    const { hub, ws, waitFor } = await linked(t, { autoPong: false });
    const closed = new Promise<number>((r) => ws.once('close', () => r(Date.now())));
    if (pingsFirst) ws.ping();
    await new Promise((r) => setTimeout(r, 10));
    const start = Date.now();
    const beats = hub.heartbeats(100);
    t.after(() => beats.undo?.());
    const at = await closed;
    await waitFor((e) => e.event === 'dead-link');
    // Timers are late on a busy machine, never early: a lower bound and a generous upper one.
    assert.ok(at - start >= (pingsFirst ? 300 : 200) - 20, `dropped after ${at - start} ms`);
    assert.ok(at - start < 30_000, `dropped after ${at - start} ms`);
    beats.undo?.();
  }
});
