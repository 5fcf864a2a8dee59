// Acked webhooks leave a shard by the keeper's purges, not by a delete each; what no link
// has had acked is parked first and delivered in full, once, when its instance links; one in
// flight holds the purge back until it is acked.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { messageAt } from '../../../../src/hooks/relay/nats/connect.js';
import { copyId } from '../../../../src/hooks/relay/nats/layout.js';
import type { NatsRelayStore } from '../../../../src/hooks/relay/nats/store.js';
import type { DeliveryFeed, StoredDelivery } from '../../../../src/hooks/relay/store.js';
import { tmpDir } from '../../../fixtures/cli.js';
import { natsClient, relayBackends } from '../backends.js';

const hook = (instance: string, i: number) => ({ id: `rly_${instance}_${i}`, app: 'shop', at: Date.now(), headers: {}, body: Buffer.from(`{"n":${i}}`) });

async function world(t: TestContext): Promise<{ store: NatsRelayStore; jsm: JetStreamManager; nc: NatsConnection }> {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = (await relayBackends.find((b) => b.name === 'nats')!.open(dir)) as NatsRelayStore;
  t.after(() => store.close());
  const nc = await natsClient(t);
  return { store, jsm: await jetstreamManager(nc), nc };
}

async function until(ok: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A link that records what it is sent, and acks at once unless told to hold one. */
async function link(store: NatsRelayStore, instance: string, hold = new Set<string>()): Promise<{ got: string[]; feed: DeliveryFeed }> {
  const got: string[] = [];
  let feed!: DeliveryFeed;
  const send = (d: StoredDelivery) => {
    got.push(d.id);
    if (!hold.has(d.id)) setImmediate(() => void feed.ack(d.id));
  };
  feed = await store.feed(instance, { send, fail: (r) => assert.fail(r), ready: () => true }, 16, (await store.counts(instance)).waiting);
  return { got, feed };
}

/** Two instance ids in the same shard. */
function sameShard(store: NatsRelayStore): [string, string] {
  const a = 'keepera0';
  for (let k = 0; ; k++) {
    const b = `keeperb${k}`;
    if (store.layout.streamOf(b) === store.layout.streamOf(a)) return [a, b];
  }
}

test('acked webhooks leave the shard by purges, none deleted one by one; an offline instance\'s are parked and all arrive once when it links', async (t) => {
  const { store, jsm } = await world(t);
  const [online, offline] = sameShard(store);
  const shard = store.layout.streamOf(online);
  for (const i of [online, offline]) await store.register(i, 'a'.repeat(64));
  const a = await link(store, online);
  // Interleaved, so that removing the online one's one by one would leave holes in the shard.
  for (let i = 0; i < 40; i++) {
    await store.append(online, hook(online, i));
    if (i % 2 === 0) await store.append(offline, hook(offline, i / 2));
  }
  await until(() => a.got.length === 40, 'the online instance to get its 40');
  assert.deepEqual(a.got, Array.from({ length: 40 }, (_, i) => `rly_${online}_${i}`));
  // Within a few keeper rounds the shard is empty: the waiting ones parked, the rest purged.
  await until(async () => (await jsm.streams.info(shard)).state.messages === 0, 'the shard to empty', 15_000);
  const st = (await jsm.streams.info(shard)).state;
  assert.equal(st.num_deleted ?? 0, 0, 'nothing was deleted one by one');
  assert.equal(st.first_seq, st.last_seq + 1, 'everything up to the last webhook purged');
  assert.equal((await store.counts(offline)).waiting, 20, 'the offline instance\'s 20 wait, parked');
  assert.equal((await store.counts(online)).waiting, 0);
  assert.deepEqual(
    (await store.pending(offline)).map((w) => w.id),
    Array.from({ length: 20 }, (_, i) => `rly_${offline}_${i}`),
  );

  const b = await link(store, offline);
  await until(() => b.got.length >= 20, 'the offline instance to get its 20');
  // A new one after linking comes live, after the parked ones.
  await store.append(offline, hook(offline, 20));
  await until(() => b.got.length >= 21, 'the live one');
  await new Promise((r) => setTimeout(r, 2_500));
  assert.deepEqual(b.got, Array.from({ length: 21 }, (_, i) => `rly_${offline}_${i}`), 'each once, oldest first');
  await until(async () => (await store.counts(offline)).waiting === 0, 'the acked parked ones to be deleted', 10_000);
  await b.feed.close();
  await a.feed.close();
});

test('a webhook in flight holds the purge back, is neither lost nor parked, and leaves once acked', async (t) => {
  const { store, jsm } = await world(t);
  const [instance] = sameShard(store);
  const shard = store.layout.streamOf(instance);
  await store.register(instance, 'a'.repeat(64));
  const held = `rly_${instance}_1`;
  const l = await link(store, instance, new Set([held]));
  for (let i = 0; i < 5; i++) await store.append(instance, hook(instance, i));
  await until(() => l.got.length === 5, 'all 5 sent');
  // Rounds pass: only the held one and those after it stay in the shard, and nothing is parked.
  await until(async () => (await jsm.streams.info(shard)).state.first_seq > 1, 'a purge');
  await new Promise((r) => setTimeout(r, 2_500));
  const st = (await jsm.streams.info(shard)).state;
  assert.ok(st.messages >= 1 && st.messages <= 4, `the held one and what follows it stay: ${st.messages}`);
  assert.deepEqual((await store.pending(instance, 1)).map((w) => w.id), [held], 'the oldest waiting is the held one');
  assert.equal((await jsm.streams.info(store.layout.parkedStream)).state.messages, 0, 'nothing parked for a link that has it in flight');
  assert.equal(await l.feed.ack(held), true);
  await until(async () => (await jsm.streams.info(shard)).state.messages === 0, 'the shard to empty once it is acked');
  assert.deepEqual(l.got, Array.from({ length: 5 }, (_, i) => `rly_${instance}_${i}`), 'each sent once');
  await l.feed.close();
});

test('a parked copy of a webhook the link already sent from the shard (a keeper round begun before the link) is not sent again', async (t) => {
  const { store, jsm, nc } = await world(t);
  const [instance] = sameShard(store);
  const shard = store.layout.streamOf(instance);
  await store.register(instance, 'a'.repeat(64));
  const ids = [0, 1, 2].map((i) => `rly_${instance}_${i}`);
  const l = await link(store, instance, new Set(ids));
  for (let i = 0; i < 3; i++) await store.append(instance, hook(instance, i));
  await until(() => l.got.length === 3, 'all 3 sent');
  const stored: StoredMsg[] = [];
  for (let seq = 1; stored.length < 3; seq++) {
    const m = await messageAt(jsm, shard, seq, { filter: store.layout.hooks(instance) });
    assert.ok(m, 'each stored in the shard');
    stored.push(m);
    seq = m.seq;
  }
  // One acked before the keeper's copy lands; two still in flight.
  assert.equal(await l.feed.ack(ids[0]), true);
  // What a keeper round that asked before this link was there does: copy each, then say so.
  const js = jetstream(nc);
  for (const m of stored) await js.publish(store.layout.parkedSubject(m.subject), m.data, { msgID: copyId(shard, m.seq) });
  nc.publish(store.layout.parkedNote, JSON.stringify({ i: [instance] }));
  const parked = async () => (await jsm.streams.info(store.layout.parkedStream, { subjects_filter: store.layout.parked(instance) } as never)).state.messages;
  // The acked one's copy is deleted; the others' copies stand in for them until acked.
  await until(async () => (await parked()) === 2, 'the acked one\'s copy deleted');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(l.got, ids, 'each sent once');
  assert.equal(await l.feed.ack(ids[1]), true);
  assert.equal(await l.feed.ack(ids[2]), true);
  await until(async () => (await parked()) === 0, 'the copies deleted as their webhooks are acked');
  await until(async () => (await jsm.streams.info(shard)).state.messages === 0, 'the shard to empty');
  assert.deepEqual(l.got, ids, 'each sent once');
  await l.feed.close();
});
