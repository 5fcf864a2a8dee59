// The scheduler over a real queue journal: while the relay says a backlog is still on its
// way, new deploys wait (so each app deploys its newest commit once), and never longer than
// HOLD_MAX_MS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { OpResult } from '../../../src/activate/result.js';
import { DeliveryLog } from '../../../src/hooks/serve/deliveries.js';
import { DeployQueue } from '../../../src/hooks/serve/queue.js';
import { HOLD_MAX_MS, Scheduler } from '../../../src/hooks/serve/scheduler.js';
import { tmpDir } from '../../fixtures/cli.js';
import { layoutOf } from '../layout.js';

const ev = (app: string, id: string) => ({ app, id, ref: 'refs/heads/main', receivedAt: new Date().toISOString() });

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const queue = await DeployQueue.open(path.join(dir, 'queue.jsonl'));
  t.after(() => queue.close());
  const started: string[] = [];
  const runner = (app: string, event: { id: string }) => {
    started.push(`${app}:${event.id}`);
    const result: OpResult = { ok: true, op: 'deploy', app, status: 'live', stages: [], durationMs: 1 };
    return { result: new Promise<OpResult>((r) => setTimeout(() => r(result), 20)), stop() {} };
  };
  const s = new Scheduler(queue, runner, () => {}, new DeliveryLog(layoutOf(dir)), 2);
  t.after(() => s.stop());
  const arrive = async (app: string, id: string) => {
    await queue.offer(ev(app, id));
    s.kick(app);
  };
  return { s, started, arrive };
}

test('while a backlog arrives, deploys wait; once it is in, each app deploys its newest event once', async (t) => {
  const { s, started, arrive } = await setup(t);
  s.backlog(300);
  for (let i = 0; i < 300; i++) await arrive(`app${i % 3}`, `d${i}`);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(started, [], 'nothing starts while more is on its way');
  s.backlog(0);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(started.sort(), ['app0:d297', 'app1:d298', 'app2:d299']);
});

test('a backlog that never ends holds deploys back at most HOLD_MAX_MS', async (t) => {
  const { s, started, arrive } = await setup(t);
  const t0 = Date.now();
  s.backlog(10);
  await arrive('app0', 'd0');
  s.backlog(9);
  await new Promise((r) => setTimeout(r, HOLD_MAX_MS / 2));
  assert.deepEqual(started, []);
  const deadline = t0 + HOLD_MAX_MS + 3_000;
  while (started.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(started, ['app0:d0']);
  // With nothing said of a backlog, a deploy starts at once.
  await new Promise((r) => setTimeout(r, 100));
  s.backlog(0);
  await arrive('app1', 'd1');
  assert.deepEqual(started, ['app0:d0', 'app1:d1']);
});
