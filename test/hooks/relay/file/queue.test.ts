// The file store's per-instance queue: its file is rewritten down to what waits while
// deliveries keep arriving and acks keep coming (the store contract is in store.test.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { deliveryLine, InstanceQueue } from '../../../../src/hooks/relay/file/queue.js';
import { tmpDir } from '../../../fixtures/cli.js';

const delivery = (i: number) => ({ id: `rly_${i}`, app: 'app', at: Date.now(), headers: {}, body: Buffer.from(`{"n":${i}}`) });

test('acked deliveries are compacted out of the file as they pile up; what waits keeps its order', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'q.jsonl');
  const q = await InstanceQueue.open(file);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 4000) {
        const i = next++;
        await q.add(delivery(i));
        if (i % 4 !== 0) assert.ok(q.settle(`rly_${i}`, 'a'));
      }
    }),
  );
  await q.compact();
  await q.close();
  // 4,000 deliveries and 3,000 acks were written; the file holds the 1,000 that wait.
  assert.equal(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 1000);
  const again = await InstanceQueue.open(file);
  assert.deepEqual([...again.waiting.keys()], Array.from({ length: 1000 }, (_, k) => `rly_${k * 4}`));
  await again.close();
});

test('a delivery\'s journal line written piece by piece is the JSON of the delivery, body in base64', () => {
  for (const size of [0, 1, 2, 3, 49_151, 49_152, 49_153, 100_000, 1024 * 1024]) {
    const body = randomBytes(size);
    const d = { id: 'rly_x', app: 'app', at: 1, headers: { 'webhook-id': 'msg_"quoted"' }, src: '192.0.2.1', body };
    const line = deliveryLine(d);
    assert.equal(line.at(-1), 10);
    assert.deepEqual(JSON.parse(line.toString()), { k: 'd', ...d, body: body.toString('base64') });
  }
});

test('a queue file is reopened record by record: lines longer than the read buffer, a damaged line and a torn tail', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'q.jsonl');
  const bodies = [randomBytes(1_500_000), randomBytes(10), randomBytes(2_100_000)];
  const q = await InstanceQueue.open(file);
  await q.add({ id: 'rly_0', app: 'a', at: 1, headers: {}, body: bodies[0] });
  fs.appendFileSync(file, '{"k":"d", damaged\n');
  await q.add({ id: 'rly_1', app: 'b', at: 2, headers: {}, body: bodies[1] });
  await q.add({ id: 'rly_2', app: 'a', at: 3, headers: {}, body: bodies[2] });
  await q.close();
  fs.appendFileSync(file, '{"k":"d","id":"rly_torn","body":"AAAA');

  const again = await InstanceQueue.open(file);
  assert.deepEqual([...again.waiting.keys()], ['rly_0', 'rly_1', 'rly_2']);
  for (let i = 0; i < 3; i++) assert.deepEqual(Buffer.from((await again.read(`rly_${i}`))!.body, 'base64'), bodies[i]);
  await again.add({ id: 'rly_3', app: 'b', at: 4, headers: {}, body: Buffer.from('after') });
  await again.close();
  const third = await InstanceQueue.open(file);
  assert.deepEqual([...third.waiting.keys()], ['rly_0', 'rly_1', 'rly_2', 'rly_3']);
  assert.equal(Buffer.from((await third.read('rly_3'))!.body, 'base64').toString(), 'after');
  await third.close();
});
