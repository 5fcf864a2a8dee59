// A followed bucket says when it has handed over every value it held: from then on a relay
// node answers "no app list" for an instance the watch did not bring without a read, and
// reads for instance ids it did not bring only a few times a second.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import type { NatsRelayStore } from '../../../../src/hooks/relay/nats/store.js';
import { followKv } from '../../../../src/hooks/relay/nats/watch.js';
import { tmpDir } from '../../../fixtures/cli.js';
import { natsClient, relayBackends, sharedNats } from '../backends.js';

async function until(ok: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function bucket(t: import('node:test').TestContext, name: string) {
  const kv = await new Kvm(await natsClient(t)).create(name, { replicas: 3 });
  t.after(() => kv.destroy().catch(() => {}));
  return kv;
}

test('a watch is caught up only once every value the bucket held is in; later puts follow', async (t) => {
  const kv = await bucket(t, `watch_full_${process.pid}`);
  for (let i = 0; i < 40; i++) await kv.put(`apps.i${i}`, JSON.stringify([`app${i}`]));
  await kv.put('other.key', 'x');
  const seen = new Map<string, string>();
  let arrivedAfterCaughtUp = 0;
  // The callback reads `f` only after it is made: values arrive after a round trip.
  const f = followKv(kv, 'apps.*', (e) => {
    if (e.key.startsWith('apps.i') && f.caughtUp) arrivedAfterCaughtUp++;
    seen.set(e.key, e.operation === 'PUT' ? e.string() : e.operation);
  });
  t.after(() => f.stop());
  await until(() => f.caughtUp, 'the watch to catch up', 15_000);
  assert.equal(arrivedAfterCaughtUp, 0, 'no value the bucket held arrives after the watch says it is caught up');
  assert.equal(seen.size, 40, 'every value of the filter, and only those');
  assert.equal(seen.has('other.key'), false);
  await kv.put('apps.late', '["late"]');
  await until(() => seen.get('apps.late') === '["late"]', 'a put after the watch caught up', 15_000);
  await kv.delete('apps.i3');
  await until(() => seen.get('apps.i3') === 'DEL', 'a delete arrives as an entry too', 15_000);
});

test('a watch on an empty bucket is caught up with nothing handed over', async (t) => {
  const kv = await bucket(t, `watch_empty_${process.pid}`);
  await kv.put('other.key', 'x');
  let calls = 0;
  const f = followKv(kv, 'apps.*', () => calls++);
  t.after(() => f.stop());
  await until(() => f.caughtUp, 'the watch of an empty filter to catch up', 15_000);
  assert.equal(calls, 0);
});

test('lookups of made-up instance ids stop costing NATS reads once the registrations watch has caught up; an id registered by another node is found', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = (await relayBackends.find((b) => b.name === 'nats')!.open(dir)) as NatsRelayStore;
  t.after(() => store.close());
  const c = await sharedNats();
  // Messages the NATS servers took in: a bucket read is a request and its reply, at least.
  const msgsIn = async () => (await Promise.all(c.nodes.map(async (x) => (await (await fetch(`${x.monitor}/varz`)).json()).in_msgs as number))).reduce((a, b) => a + b, 0);
  let batch = 0;
  let cost = Infinity;
  await until(
    async () => {
      const before = await msgsIn();
      for (let i = 0; i < 500; i++) assert.equal(await store.lookup(`junk${batch}x${i}`), undefined);
      batch++;
      cost = (await msgsIn()) - before;
      // 500 reads would be 1,000 messages or more; the budget allows a few dozen.
      return cost < 300;
    },
    'junk lookups to stop reading the bucket',
    20_000,
  );
  assert.ok(cost < 300, `${cost} messages for 500 junk lookups`);
  // Registered through another node (straight into the bucket here): found within a moment,
  // by the watch or a read (right after a flood the reads' budget may be spent).
  const kv = await new Kvm(await natsClient(t)).open(`${store.layout.prefix}_instances`);
  await kv.create('elsewhere1', JSON.stringify({ secretHash: 'b'.repeat(64), createdAt: new Date().toISOString() }));
  let found: string | undefined;
  await until(async () => (found = await store.lookup('elsewhere1')) !== undefined, 'the registration made elsewhere', 5_000);
  assert.equal(found, 'b'.repeat(64));
});
