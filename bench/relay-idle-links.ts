// What idle links cost a relay: the link hub (on a file store, in this process) with N
// instances linked over real WebSockets from a child process, each pinging the relay every
// round as `toes serve` does, heartbeat rounds every second (20 times the default rate, so a
// short run shows it), and the hub's CPU from process.cpuUsage over the run. With
// BENCH_BASELINE=/path/to/another/built/checkout, its hub and this one's run in turn
// (BENCH_ROUNDS rounds each, default 3, order alternating), medians side by side.
// Run: `node dist/bench/relay-idle-links.js [links] [seconds]`.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './report.js';

const here = fileURLToPath(import.meta.url);
const ROUND_MS = 1_000;

/** The instances' side: every link opens, then pings each round. */
async function runClients(): Promise<void> {
  const { default: WebSocket } = await import('ws');
  const { port, ids } = JSON.parse(process.env.IDLE_LINKS_CLIENTS!) as { port: number; ids: [string, string][] };
  let open = 0;
  for (const [id, secret] of ids) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/connect`, { headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id } });
    ws.on('open', () => {
      if (++open === ids.length) process.send?.('open');
      setInterval(() => ws.ping(), ROUND_MS);
    });
    ws.on('error', (err) => console.error(`link ${id}: ${err.message}`));
  }
}

/** The hub's CPU ms per second of `seconds` with `n` idle links; `root` is the checkout whose hub runs. */
async function hubCpu(root: string, n: number, seconds: number): Promise<number> {
  const { LinkHub } = await import(path.join(root, 'dist/src/hooks/relay/hub.js'));
  const { FileRelayStore } = await import(path.join(root, 'dist/src/hooks/relay/file/store.js'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-idle-links-'));
  const store = await FileRelayStore.open(dir);
  const server = http.createServer();
  let clients: ChildProcess | undefined;
  try {
    const ids: [string, string][] = [];
    for (let i = 0; i < n; i++) {
      const secret = randomBytes(12).toString('hex');
      const id = `idle${String(i).padStart(6, '0')}`;
      await store.register(id, createHash('sha256').update(secret).digest('hex'));
      ids.push([id, secret]);
    }
    const hub = new LinkHub(store, () => {});
    server.on('upgrade', (req, socket, head) => void hub.upgrade(req, socket, head));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    clients = fork(here, ['--clients'], { env: { ...process.env, IDLE_LINKS_CLIENTS: JSON.stringify({ port: (server.address() as AddressInfo).port, ids }) } });
    await new Promise((r) => clients!.once('message', r));
    const beats = hub.heartbeats(ROUND_MS);
    try {
      // A few rounds to settle, then the measured ones.
      await new Promise((r) => setTimeout(r, 3 * ROUND_MS));
      const start = process.cpuUsage();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const used = process.cpuUsage(start);
      if (hub.connected !== n) throw new Error(`${hub.connected} of ${n} links still open`);
      return (used.user + used.system) / 1000 / seconds;
    } finally {
      beats.undo?.();
    }
  } finally {
    clients?.kill();
    server.closeAllConnections();
    server.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--clients') await runClients();
else if (process.argv[1] && path.resolve(process.argv[1]) === here) {
  const n = Number(process.argv[2] ?? 2000);
  const seconds = Number(process.argv[3] ?? 15);
  const self = path.resolve(path.dirname(here), '../..');
  const baseline = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const sides = baseline ? (['before', 'after'] as const) : (['after'] as const);
  const r: Record<string, number[]> = { before: [], after: [] };
  for (let k = 0; k < rounds; k++) {
    for (const side of k % 2 ? [...sides].reverse() : sides) {
      const ms = await hubCpu(side === 'before' ? baseline! : self, n, seconds);
      console.error(`bench: idle links: round ${k + 1}, ${side}: ${ms.toFixed(1)} ms/s`);
      r[side].push(ms);
    }
  }
  const line = (side: string) => `${side}: ${median(r[side]).toFixed(1)} ms of CPU a second (${r[side].map((x) => x.toFixed(1)).join(' / ')})`;
  console.log(`Relay hub with ${n} idle links, instances pinging each round, rounds every ${ROUND_MS / 1000} s, medians of ${rounds}:`);
  if (baseline) console.log(line('before'));
  console.log(line('after'));
  console.log(`BENCH_JSON ${JSON.stringify({ relayIdleLinks: { links: n, seconds, ...r } })}`);
  process.exit(0);
}
