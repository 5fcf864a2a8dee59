// The relay's per-instance queue: what is stored reads back exactly, through compactions
// that run while deliveries keep arriving and acks keep coming.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InstanceQueue } from '../../../src/hooks/relay/file-store.js';
import { tmpDir } from '../../fixtures/cli.js';

const delivery = (i: number) => ({ id: `rly_${i}`, app: `app${i % 3}`, at: Date.now(), headers: { 'webhook-id': `msg_${i}` }, body: Buffer.from(`{"n":${i}}`).toString('base64') });

test('deliveries stored during a compaction keep their place; acked ones are gone after a reopen', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'q.jsonl');
  const q = await InstanceQueue.open(file);
  let acked = 0;
  // Adds and acks interleaved, enough acks to start several compactions mid-stream.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 4000) {
        const i = next++;
        await q.add(delivery(i));
        if (i % 4 !== 0) {
          assert.ok(q.settle(`rly_${i}`, 'a'));
          acked++;
        }
      }
    }),
  );
  assert.equal(q.waiting.size, 4000 - acked);
  for (const id of q.waiting.keys()) {
    const d = await q.read(id);
    assert.equal(d?.id, id);
    assert.equal(Buffer.from(d!.body, 'base64').toString(), `{"n":${id.slice(4)}}`);
  }
  assert.equal(q.settle('rly_unknown', 'a'), false);
  await new Promise((r) => setTimeout(r, 100));
  await q.close();
  const again = await InstanceQueue.open(file);
  assert.deepEqual([...again.waiting.keys()].sort(), [...q.waiting.keys()].sort());
  for (const id of again.waiting.keys()) assert.equal((await again.read(id))?.id, id);
  // The file was compacted: far fewer lines than the 4,000 + 3,000 written.
  assert.ok(fs.readFileSync(file, 'utf8').split('\n').length < 5000);
  await again.close();
});
