// Relay figures, with `toes relay` and `toes serve` as separate processes on loopback and
// durable storage at both ends:
// - relay-accept -> instance-ack latency (the relay logs it per delivery), for webhooks
//   sent one at a time, median and p99;
// - sustained webhooks per second through the relay: from the first POST until the
//   relay has every ack;
// - relay memory with 10,000 deliveries waiting for an offline instance, live and after a
//   restart that reads them back from disk.
import { type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { post, standard } from '../test/fixtures/hooks.js';
import { median } from './report.js';
import { burst, rssKb, startServer, stopServer } from './servers.js';
import { Toes, type Runtime } from './toes.js';

export interface RelayResults {
  runtime: Runtime;
  latencyMs: number[];
  perSec: number[];
  pendingRssKb: number;
  reopenedRssKb: number;
  pending: number;
}


async function until(ok: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`relay bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function relayRounds(c: { tmp: string; env: NodeJS.ProcessEnv; log(m: string): void }, runs: number, runtime: Runtime): Promise<RelayResults> {
  const root = path.join(c.tmp, `relay-${runtime}`);
  const relayDir = path.join(root, 'relay-data');
  const data = path.join(root, 'instance');
  fs.mkdirSync(relayDir, { recursive: true });
  const r: RelayResults = { runtime, latencyMs: [], perSec: [], pendingRssKb: 0, reopenedRssKb: 0, pending: 10_000 };
  // Room for every webhook a round sends: past 1,000 waiting for one app (the default) the
  // relay drops the oldest by design, and a round that fell behind would never see all acks.
  const relayArgs = ['relay', '--port', '0', '--data', relayDir, '--rate', '1000000', '--address-rate', '1000000', '--max-pending', '20000', '--max-pending-app', '20000'];
  let relay = await startServer(relayArgs, c.env, path.join(root, 'relay.log'), runtime);
  let serve: ChildProcess | undefined;
  try {
    const env = { ...c.env, REV_RELAY_URL: relay.url };
    const toes = new Toes(data, env, runtime);
    const hook = (await toes.cli(['webhook', 'enable', 'acks'])).json as unknown as { url: string; secret: string };
    const hookPath = new URL(hook.url).pathname;
    serve = (await startServer(['serve', '--port', '0'], { ...env, DATA_DIR: data }, path.join(root, 'serve.log'), runtime)).child;
    await until(() => relay.lines().some((l) => l.event === 'connected'), 'the instance link');
    const acked = () => relay.lines().filter((l) => l.event === 'acked');

    // One at a time: each accept -> ack as the relay saw it.
    const one = 200;
    for (let i = 0; i < one; i++) {
      const res = await post(relay.url, hookPath, standard(hook.secret, { type: 'save', ref: 'refs/heads/main' }));
      if (res.status !== 202) throw new Error(`relay answered ${res.status}`);
      const want = i + 1;
      await until(() => acked().length >= want, 'an ack', 10_000);
    }
    r.latencyMs = acked().map((l) => l.ms).filter((x) => typeof x === 'number');

    c.log(`relay: sustained, ${runs} rounds of 3,000 webhooks`);
    for (let i = 0; i < runs; i++) {
      const before = acked().length;
      const t0 = performance.now();
      await burst(relay.url, hookPath, hook.secret, 3000, 32);
      await until(() => acked().length >= before + 3000, 'all acks');
      r.perSec.push(3000 / ((performance.now() - t0) / 1000));
    }

    // An instance that never connects: 10,000 deliveries wait on the relay.
    c.log('relay: 10,000 deliveries waiting for an offline instance');
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const reg = await fetch(`${relay.url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash: createHash('sha256').update(secret).digest('hex') }) });
    if (reg.status !== 201) throw new Error(`registration failed: ${reg.status}`);
    await burst(relay.url, `/hooks/${id}/offline`, hook.secret, r.pending, 32);
    await new Promise((res) => setTimeout(res, 1500));
    r.pendingRssKb = rssKb(relay.child.pid!);
    await stopServer(relay.child);
    relay = await startServer(relayArgs, c.env, path.join(root, 'relay2.log'), runtime);
    await new Promise((res) => setTimeout(res, 1500));
    r.reopenedRssKb = rssKb(relay.child.pid!);
  } finally {
    if (serve) await stopServer(serve);
    await stopServer(relay.child);
  }
  return r;
}

export function relaySummary(r: RelayResults): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return [
    `relay (toes relay and toes serve on ${r.runtime}, separate processes, durable at both ends):`,
    `  relay-accept -> instance-ack, one at a time (${r.latencyMs.length}): median ${ms(median(r.latencyMs))}, p99 ${ms(pct(r.latencyMs, 99))} (targets < 15 ms, < 50 ms)`,
    `  sustained through the relay, 3,000 per round, 32 connections: ${Math.round(median(r.perSec))}/s (target > 1,000/s; rounds ${r.perSec.map(Math.round).join(', ')})`,
    `  relay memory with ${r.pending.toLocaleString('en')} waiting: ${(r.pendingRssKb / 1024).toFixed(1)} MB, ${(r.reopenedRssKb / 1024).toFixed(1)} MB after a restart (target < 100 MB)`,
  ].join('\n');
}
