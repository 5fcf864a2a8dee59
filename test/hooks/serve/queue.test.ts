import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DeployQueue } from '../../../src/hooks/serve/queue.js';
import { tmpDir } from '../../fixtures/cli.js';

/** A journal path in a directory removed when the test ends. */
function queueFile(t: { after(fn: () => unknown): void }): string {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'queue.jsonl');
}

const ev = (app: string, id: string) => ({ app, id, ref: 'refs/heads/main', receivedAt: new Date().toISOString() });

test('a burst is queued durably; duplicates dropped; one pending deploy per app', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file);
  const offers = await Promise.all(Array.from({ length: 500 }, (_, i) => q.offer(ev(`app${i % 5}`, `d${i}`))));
  assert.equal(offers.filter((o) => o.result === 'queued').length, 500);
  assert.equal((await q.offer(ev('app0', 'd0'))).result, 'duplicate');
  assert.deepEqual(q.apps().sort(), ['app0', 'app1', 'app2', 'app3', 'app4']);
  // The newest event stands for the burst.
  const took = q.take('app1')!;
  assert.equal(took.event.id, 'd496');
  assert.equal(q.take('app1'), undefined);
  await took.done();
  await q.close();
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  // After a restart (or a crash), everything not taken is pending again; nothing is lost.
  const again = await DeployQueue.open(file);
  assert.deepEqual(again.apps().sort(), ['app0', 'app2', 'app3', 'app4']);
  assert.equal(again.take('app0')!.event.id, 'd495');
  assert.equal((await again.offer(ev('app3', 'd3'))).result, 'duplicate');
  await again.close();
});

test('a torn last line (a crash mid-write) is cut; the events before it survive', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file);
  await q.offer(ev('a', '1'));
  await q.close();
  fs.appendFileSync(file, '{"kind":"event","seq":2,"ev');
  const r = await DeployQueue.open(file);
  assert.deepEqual(r.apps(), ['a']);
  assert.equal((await r.offer(ev('a', '3'))).result, 'queued');
  await r.close();
  const r2 = await DeployQueue.open(file);
  assert.equal(r2.take('a')!.event.id, '3');
  await r2.close();
});

test('a deploy that was taken but never finished is offered again after a restart', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file);
  await q.offer(ev('a', '1'));
  assert.ok(q.take('a')); // deploy started, process dies before done()
  await q.close();
  const r = await DeployQueue.open(file);
  assert.equal(r.take('a')!.event.id, '1');
  await r.close();
});

test('a newer event supersedes the pending one; a deploy running meanwhile leaves one pending', async (t) => {
  const q = await DeployQueue.open(queueFile(t));
  assert.equal((await q.offer(ev('a', '1'))).superseded, undefined);
  const running = q.take('a')!; // a deploy starts with event 1
  assert.equal((await q.offer(ev('a', '2'))).superseded, undefined);
  const o3 = await q.offer(ev('a', '3'));
  assert.equal(o3.superseded?.id, '2');
  assert.equal(q.peek('a')?.id, '3');
  await running.done();
  assert.equal(q.take('a')!.event.id, '3');
  await q.close();
});

test('the journal is compacted while running and on open; pending events and recent ids survive', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file, { rememberIds: 50, compactEvery: 100 });
  for (let i = 0; i < 400; i++) {
    await q.offer(ev(`app${i % 4}`, `d${i}`));
    if (i % 10 === 9) await q.take(`app${i % 4}`)?.done();
  }
  await q.close();
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  // 400 events and 40 taken marks were written; compaction keeps far fewer.
  assert.ok(lines.length < 200, `journal has ${lines.length} lines`);
  const r = await DeployQueue.open(file, { rememberIds: 50, compactEvery: 100 });
  // Each app's newest event is pending unless its deploy was done after it (app3's, d399).
  assert.deepEqual(r.apps().sort(), ['app0', 'app1', 'app2']);
  assert.equal(r.peek('app2')?.id, 'd398');
  // A recent id is still a duplicate; one long forgotten is not remembered.
  assert.equal((await r.offer(ev('app3', 'd395'))).result, 'duplicate');
  assert.equal((await r.offer(ev('app0', 'd0'))).result, 'queued');
  await r.close();
  assert.ok(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length <= 60);
});

test('a damaged line in the middle is skipped; the records around it survive', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file);
  await q.offer(ev('a', '1'));
  await q.close();
  fs.appendFileSync(file, '{"kind":"ev\u0000garbage\n');
  const q2 = await DeployQueue.open(file);
  await q2.offer(ev('b', '2'));
  await q2.close();
  const r = await DeployQueue.open(file);
  assert.deepEqual(r.apps().sort(), ['a', 'b']);
  assert.equal((await r.offer(ev('a', '1'))).result, 'duplicate');
  await r.close();
});

test('a compaction keeps an event whose deploy is still running: after a crash it runs again', async (t) => {
  const file = queueFile(t);
  const q = await DeployQueue.open(file, { rememberIds: 5, compactEvery: 10 });
  await q.offer(ev('a', 'running'));
  assert.ok(q.take('a')); // the deploy starts, and never finishes (a crash, a SIGTERM)
  for (let i = 0; i < 30; i++) await q.offer(ev('b', `x${i}`)); // compactions meanwhile
  await q.close();
  const r = await DeployQueue.open(file, { rememberIds: 5, compactEvery: 10 });
  assert.equal(r.peek('a')?.id, 'running');
  await r.close();
});
