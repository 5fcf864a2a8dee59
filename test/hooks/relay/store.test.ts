// The relay's store, through the RelayStore interface, for each backend: what is stored
// reads back exactly and in arrival order, through compactions that run while deliveries
// keep arriving and acks keep coming.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { FileRelayStore } from '../../../src/hooks/relay/file/store.js';
import type { NatsRelayStore } from '../../../src/hooks/relay/nats/store.js';
import type { DeliveryFeed, FeedTarget, RelayStore } from '../../../src/hooks/relay/store.js';
import { tmpDir } from '../../fixtures/cli.js';
import { relayBackends, relayTest, type RelayBackend } from './backends.js';

const delivery = (i: number) => ({ id: `rly_${i}`, app: `app${i % 3}`, at: Date.now(), headers: { 'x-toes-test': `msg_${i}` }, body: Buffer.from(`{"n":${i}}`) });
const INSTANCE = 'inst0000';

relayTest('deliveries stored during a compaction keep their place; acked ones are gone after a reopen', async (t, backend) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await backend.open(dir);
  assert.equal(await store.register(INSTANCE, 'a'.repeat(64)), 'created');
  // Adds and acks interleaved, enough acks to start several compactions mid-stream.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 4000) {
        const i = next++;
        await store.append(INSTANCE, delivery(i));
        if (i % 4 !== 0) assert.ok(await store.settle(INSTANCE, `rly_${i}`, 'acked'));
      }
    }),
  );
  // Every fourth was never acked: those wait, oldest first.
  const expected = Array.from({ length: 1000 }, (_, k) => `rly_${k * 4}`);
  assert.deepEqual((await store.pending(INSTANCE)).map((w) => w.id), expected);
  assert.deepEqual((await store.pending(INSTANCE, 3)).map((w) => w.id), expected.slice(0, 3));
  assert.deepEqual(await store.totals(), { instances: 1, waiting: 1000 });
  for (const id of expected) {
    const d = await store.read(INSTANCE, id);
    assert.equal(d?.id, id);
    assert.equal(Buffer.from(d!.body, 'base64').toString(), `{"n":${id.slice(4)}}`);
  }
  assert.equal(await store.settle(INSTANCE, 'rly_unknown', 'acked'), false);
  assert.equal(await store.read(INSTANCE, 'rly_1'), undefined);
  // A directory's queues rewritten without what was settled must read back the same.
  if (store instanceof FileRelayStore) await store.compact();
  await store.close();

  const again = await backend.open(dir);
  assert.equal(await again.lookup(INSTANCE), 'a'.repeat(64));
  assert.deepEqual((await again.pending(INSTANCE)).map((w) => w.id), expected);
  for (const id of expected) assert.equal((await again.read(INSTANCE, id))?.id, id);
  assert.equal((await again.counts(INSTANCE)).waiting, 1000);
  // An expired one is gone like an acked one.
  assert.equal(await again.settle(INSTANCE, expected[0], 'expired'), true);
  assert.deepEqual((await again.pending(INSTANCE, 1)).map((w) => w.id), [expected[1]]);
  await again.close();
});

relayTest('a registration is kept with its secret hash; another secret for the same id is refused', async (t, backend) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await backend.open(dir);
  const [a, b] = await Promise.all([store.register(INSTANCE, 'a'.repeat(64)), store.register(INSTANCE, 'b'.repeat(64))]);
  assert.deepEqual([a, b], ['created', 'taken']);
  assert.equal(await store.register(INSTANCE, 'a'.repeat(64)), 'exists');
  assert.equal(await store.lookup('nosuchinst'), undefined);
  assert.deepEqual(await store.instances(), [INSTANCE]);
  await store.close();
  const again = await backend.open(dir);
  assert.equal(await again.lookup(INSTANCE), 'a'.repeat(64));
  await again.close();
});

relayTest('counts per app, the oldest of one app, and a dropped delivery is gone like an acked one', async (t, backend) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await backend.open(dir);
  await store.register(INSTANCE, 'a'.repeat(64));
  for (let i = 0; i < 9; i++) await store.append(INSTANCE, delivery(i));
  const c = await store.counts(INSTANCE);
  assert.equal(c.waiting, 9);
  assert.deepEqual(Object.keys(c.apps).sort(), ['app0', 'app1', 'app2']);
  assert.deepEqual(Object.values(c.apps).map((a) => a.waiting), [3, 3, 3]);
  assert.equal(Object.values(c.apps).reduce((n, a) => n + a.bytes, 0), c.bytes);
  assert.deepEqual((await store.pending(INSTANCE, 2, 'app1')).map((w) => w.id), ['rly_1', 'rly_4']);
  assert.deepEqual(await store.pending(INSTANCE, 1, 'nosuchapp'), []);
  assert.equal(await store.settle(INSTANCE, 'rly_1', 'dropped'), true);
  assert.equal(await store.settle(INSTANCE, 'rly_1', 'dropped'), false);
  assert.deepEqual((await store.pending(INSTANCE, 1, 'app1')).map((w) => w.id), ['rly_4']);
  for (const id of ['rly_4', 'rly_7']) await store.settle(INSTANCE, id, 'acked');
  assert.equal((await store.counts(INSTANCE)).apps.app1, undefined);
  await store.close();
  const again = await backend.open(dir);
  assert.deepEqual((await again.counts(INSTANCE)).apps.app1, undefined);
  assert.equal((await again.counts(INSTANCE)).apps.app0.waiting, 3);
  await again.close();
});

/** Nothing waits for INSTANCE any more: acked webhooks are removed (on a cluster, within a second, in a batch). */
async function settled(store: RelayStore): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await store.pending(INSTANCE)).length > 0) {
    if (Date.now() > deadline) assert.deepEqual(await store.pending(INSTANCE), []);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A store of its own with `n` webhooks waiting for INSTANCE, and a feed of them to `to`, as the hub starts one. */
async function feedOf(t: TestContext, backend: RelayBackend, n: number, to: FeedTarget, window: number): Promise<{ store: RelayStore; feed: DeliveryFeed }> {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await backend.open(dir);
  t.after(() => store.close());
  assert.equal(await store.register(INSTANCE, 'a'.repeat(64)), 'created');
  for (let i = 0; i < n; i++) await store.append(INSTANCE, delivery(i));
  const feed = await store.feed(INSTANCE, to, window, (await store.counts(INSTANCE)).waiting);
  t.after(() => feed.close());
  return { store, feed };
}

relayTest('a feed sends what waits oldest first within its window, reads on as acks come, sends new ones live, and offers a nacked one again', async (t, backend) => {
  const got: string[] = [];
  const failed: string[] = [];
  const { store, feed } = await feedOf(t, backend, 10, { send: (d) => void got.push(d.id), fail: (r) => void failed.push(r), ready: () => true }, 4);
  const until = async (ok: () => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${got.join(' ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until(() => got.length === 4, 'the first window');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, ['rly_0', 'rly_1', 'rly_2', 'rly_3'], 'no more than the window before an ack');
  // New ones while the window is full wait their turn behind the older ones.
  for (let i = 10; i < 14; i++) await store.append(INSTANCE, delivery(i));
  feed.wake();
  for (let k = 0; k < 14; k++) {
    await until(() => got.length > k, `delivery ${k}`);
    assert.equal(await feed.ack(got[k]), true);
  }
  assert.deepEqual(got, Array.from({ length: 14 }, (_, i) => `rly_${i}`));
  assert.equal(await feed.pending(), 0);
  // Live: a new one goes out without an ack to make room.
  await store.append(INSTANCE, delivery(14));
  feed.wake();
  await until(() => got.length === 15, 'a live delivery');
  assert.equal(got[14], 'rly_14');
  // Nacked (the instance's disk is full): it comes again, once.
  assert.equal(feed.nack('rly_14'), true);
  assert.equal(feed.nack('rly_14'), false);
  await until(() => got.length === 16, 'the nacked delivery again');
  assert.equal(got[15], 'rly_14');
  assert.equal(await feed.ack('rly_14'), true);
  assert.equal(await feed.ack('rly_14'), false, 'an ack for what is no longer in flight');
  await settled(store);
  assert.deepEqual(failed, []);
});

// Only a cluster counts by group: one process counts its own files.
test('a group count gives every waiting instance of the group what counting each one gives [nats]', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = (await relayBackends.find((b) => b.name === 'nats')!.open(dir)) as NatsRelayStore;
  t.after(() => store.close());
  const ids = Array.from({ length: 40 }, (_, i) => `inst${String(i).padStart(4, '0')}`);
  for (const id of ids) await store.register(id, 'a'.repeat(64));
  let n = 0;
  for (const [k, id] of ids.entries()) for (let j = 0; j < k % 4; j++) await store.append(id, delivery(n++));
  const groups = new Map<string, string[]>();
  for (const id of ids) groups.set(store.groupOf(id), [...(groups.get(store.groupOf(id)) ?? []), id]);
  assert.ok(groups.size > 1, 'instances spread over groups');
  for (const [group, members] of groups) {
    const all = await store.countGroup(group);
    for (const id of members) {
      const one = await store.counts(id);
      assert.deepEqual(all.get(id) ?? { waiting: 0, bytes: 0, apps: {} }, one, id);
    }
    assert.ok([...all.keys()].every((id) => members.includes(id)), 'only the group\'s own instances');
  }
});

relayTest('a long backlog goes out whole, oldest first, each once, within the window, with new ones arriving meanwhile', async (t, backend) => {
  const got: string[] = [];
  let inFlight = 0;
  let most = 0;
  const { store, feed } = await feedOf(t, backend, 60, { send: (d) => void (got.push(d.id), (most = Math.max(most, ++inFlight))), fail: (r) => assert.fail(r), ready: () => true }, 8);
  const deadline = Date.now() + 30_000;
  let acked = 0;
  while (acked < 70) {
    if (Date.now() > deadline) assert.fail(`timed out with ${got.length} sent: ${got.join(' ')}`);
    if (acked === 30) for (let i = 60; i < 70; i++) await store.append(INSTANCE, delivery(i)), feed.wake();
    if (got.length > acked) {
      inFlight--;
      assert.equal(await feed.ack(got[acked++]), true);
    } else await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(got, Array.from({ length: 70 }, (_, i) => `rly_${i}`));
  assert.ok(most <= 8, `at most the window in flight (${most})`);
  assert.equal(await feed.pending(), 0);
  await settled(store);
});

relayTest('a webhook nacked while a long backlog is still being read comes again, and nothing after it is skipped', async (t, backend) => {
  const got: string[] = [];
  const { store, feed } = await feedOf(t, backend, 80, { send: (d) => void got.push(d.id), fail: (r) => assert.fail(r), ready: () => true }, 8);
  const deadline = Date.now() + 40_000;
  const acked = new Set<string>();
  let k = 0;
  while (acked.size < 80) {
    if (Date.now() > deadline) assert.fail(`timed out with ${acked.size} acked; sent: ${got.join(' ')}`);
    if (got.length <= k) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const id = got[k++];
    // The first time it comes, rly_5 is nacked (a full disk): offered again 5 s later.
    if (id === 'rly_5' && got.indexOf(id) === k - 1) assert.equal(feed.nack(id), true);
    else {
      assert.equal(await feed.ack(id), true, id);
      acked.add(id);
    }
    // Slow acks (80 take about 9 s): the nack's 5 s run out while the rest of the backlog
    // is still being read.
    await new Promise((r) => setTimeout(r, 110));
  }
  assert.deepEqual(
    got.filter((id) => id !== 'rly_5'),
    Array.from({ length: 80 }, (_, i) => `rly_${i}`).filter((id) => id !== 'rly_5'),
  );
  assert.equal(got.filter((id) => id === 'rly_5').length, 2, 'the nacked one, once more');
  assert.equal(await feed.pending(), 0);
  await settled(store);
});

relayTest('a feed sends no more while its link is not ready, and goes on from there once the link drains (wake)', async (t, backend) => {
  const got: string[] = [];
  let room = 3;
  // A link whose socket takes three, then holds everything until it drains.
  const { store, feed } = await feedOf(t, backend, 20, { send: (d) => void (got.push(d.id), room--), fail: (r) => assert.fail(r), ready: () => room > 0 }, 32);
  const until = async (ok: () => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`${what}: sent ${got.join(' ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until(() => got.length === 3, 'three sent');
  // New ones arrive meanwhile; nothing more goes out while the link is full.
  for (let i = 20; i < 25; i++) await store.append(INSTANCE, delivery(i)), feed.wake();
  const settled = await store.counts(INSTANCE);
  assert.equal(settled.waiting, 25);
  assert.equal(got.length, 3);
  for (let k = 3; k < 25; k += 3) {
    room = 3;
    feed.wake();
    await until(() => got.length === Math.min(25, k + 3), `three more after a drain (${k})`);
  }
  assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => `rly_${i}`));
  for (const id of got) assert.equal(await feed.ack(id), true);
  assert.equal(await feed.pending(), 0);
});

relayTest('an instance\'s app list and each webhook\'s sender are kept; a list never said reads as none', async (t, backend) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await backend.open(dir);
  await store.register(INSTANCE, 'a'.repeat(64));
  assert.equal(await store.apps(INSTANCE), undefined);
  await store.setApps(INSTANCE, ['blog', 'shop']);
  assert.deepEqual([...(await store.apps(INSTANCE))!].sort(), ['blog', 'shop']);
  await store.append(INSTANCE, { ...delivery(1), src: '192.0.2.7' });
  assert.equal((await store.read(INSTANCE, 'rly_1'))?.src, '192.0.2.7');
  await store.setApps(INSTANCE, []);
  await store.close();
  const again = await backend.open(dir);
  assert.deepEqual([...(await again.apps(INSTANCE))!], []);
  assert.equal((await again.read(INSTANCE, 'rly_1'))?.src, '192.0.2.7');
  await again.close();
});
