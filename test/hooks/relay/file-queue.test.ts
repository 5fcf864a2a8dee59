// The file store's per-instance queue: its file is rewritten down to what waits while
// deliveries keep arriving and acks keep coming (the store contract is in store.test.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InstanceQueue } from '../../../src/hooks/relay/file-queue.js';
import { tmpDir } from '../../fixtures/cli.js';

const delivery = (i: number) => ({ id: `rly_${i}`, app: 'app', at: Date.now(), headers: {}, body: Buffer.from(`{"n":${i}}`).toString('base64') });

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
