// The link hub's own bookkeeping, in process with a real WebSocket link: what it keeps per
// webhook is bounded whatever happens to the webhooks.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import WebSocket from 'ws';
import { LinkHub } from '../../../src/hooks/relay/hub.js';
import { FileRelayStore } from '../../../src/hooks/relay/file-store.js';
import { tmpDir } from '../../fixtures/cli.js';

test('webhooks accepted while their instance is linked and never acked here (dropped, expired, acked on another node) are not remembered for good', async (t) => {
  const dir = tmpDir('toes-hub-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = await FileRelayStore.open(dir);
  const id = 'inst0000hub';
  const secret = randomBytes(24).toString('base64url');
  await store.register(id, createHash('sha256').update(secret).digest('hex'));
  const hub = new LinkHub(store, () => {});
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => void hub.upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/connect`, { headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id } });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  // node:test runs after-hooks in the order they were added: one, in the order that ends.
  t.after(async () => {
    ws.terminate();
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
  });
  assert.equal(hub.connected, 1);
  // What the relay's routes do for each webhook: accepted, then dropped to make room.
  for (let i = 0; i < 30_000; i++) hub.accepted(id, `rly_${i}`);
  for (let i = 0; i < 1_000; i++) hub.forget(id, `rly_${29_999 - i}`);
  const timed = (hub as unknown as { acceptedAt: Map<string, number> }).acceptedAt;
  assert.ok(timed.size <= 10_000, `${timed.size} webhooks still timed`);
  assert.ok(!timed.has('rly_29999'));
});
