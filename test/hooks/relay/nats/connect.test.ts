// A relay node's NATS connection writes what a turn of the event loop queued in one socket
// write, in order: publishes made by requests handled in the same turn leave together.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { coalesceWrites } from '../../../../src/hooks/relay/nats/connect.js';
import { natsClient } from '../backends.js';

async function counted(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; writes: () => number }> {
  const nc = await natsClient(t);
  const transport = (nc as unknown as { protocol: { transport: { send(b: Uint8Array): void } } }).protocol.transport;
  let writes = 0;
  const send = transport.send.bind(transport);
  transport.send = (b) => {
    writes++;
    send(b);
  };
  return { nc, writes: () => writes };
}

test('publishes from 200 callbacks of one turn leave in a few writes, every one in order', async (t) => {
  const { nc, writes } = await counted(t);
  coalesceWrites(nc);
  const subject = `coalesce.${process.pid}`;
  const got: number[] = [];
  const reader = await natsClient(t);
  const all = new Promise<void>((resolve) => reader.subscribe(subject, {
      callback: (_e, m) => {
        if (got.push(Number(m.string())) === 200) resolve();
      },
    }));
  await reader.flush();
  const before = writes();
  // As requests handled in one turn do: each publishes from a callback of its own.
  for (let i = 0; i < 200; i++) setImmediate(() => nc.publish(subject, String(i)));
  await all;
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  assert.ok(writes() - before <= 3, `${writes() - before} writes for 200 publishes`);
  // A flush (a PING the client awaits) and a request still go out.
  await nc.flush();
  const sub = reader.subscribe(`${subject}.ask`, {
    callback: (_e, m) => {
      m.respond('yes');
    },
  });
  t.after(() => sub.unsubscribe());
  await reader.flush();
  assert.equal((await nc.request(`${subject}.ask`, 'q', { timeout: 5_000 })).string(), 'yes');
});

test('without it, the client writes once per callback (what the test above would see)', async (t) => {
  const { nc, writes } = await counted(t);
  const before = writes();
  for (let i = 0; i < 50; i++) setImmediate(() => nc.publish(`coalesce.off.${process.pid}`, String(i)));
  await nc.flush();
  assert.ok(writes() - before >= 50, `${writes() - before} writes for 50 publishes`);
});
