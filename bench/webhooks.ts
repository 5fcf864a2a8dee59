// Webhook figures for `toes serve`, run as its own process:
// - webhook received -> new release live (the swap done), for a one-file change in the
//   bench repository, timed by the sender from the POST until `current` names a new release;
// - how many signed webhooks per second the receiver acknowledges, each durably queued
//   before its answer, beside the same run's count of fdatasyncs per second (what one sync
//   per event would allow);
// - the daemon's memory, idle after start and idle again after the burst.
import fs from 'node:fs';
import path from 'node:path';
import { post, standard } from '../test/fixtures/hooks.js';
import type { BenchRepo } from './repo.js';
import { median } from './report.js';
import { burst, rssKb, startServer, stopServer, type Server } from './servers.js';
import { Toes, type Runtime } from './toes.js';

export interface WebhookResults {
  runtime: Runtime;
  toLiveMs: number[];
  ackMs: number[];
  acksPerSec: number[];
  fdatasyncPerSec: number;
  idleRssKb: number;
  afterBurstRssKb: number;
  burst: number;
  /** On Node, the same bursts with `NODE_OPTIONS=--max-semi-space-size=1` for the daemon. */
  small?: { acksPerSec: number[]; idleRssKb: number; afterBurstRssKb: number };
}

const SMALL_HEAP = '--max-semi-space-size=1';

const APP = 'hooked';

/** Small appends, each followed by fdatasync: one sync per event, on the same disk. */
function fdatasyncRate(dir: string, n = 1500): number {
  const file = path.join(dir, 'fdatasync-probe');
  const fd = fs.openSync(file, 'a');
  const line = Buffer.from(`{"kind":"event","seq":1,"event":{"app":"x","id":"msg_0123456789abcdef"}}\n`);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    fs.writeSync(fd, line);
    fs.fdatasyncSync(fd);
  }
  const s = (performance.now() - t0) / 1000;
  fs.closeSync(fd);
  fs.rmSync(file);
  return n / s;
}

async function untilLive(link: string, before: string, t0: number): Promise<number> {
  for (;;) {
    const now = fs.readlinkSync(link);
    if (now !== before) return performance.now() - t0;
    if (performance.now() - t0 > 60_000) throw new Error('the webhook deploy never went live');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function webhookRounds(
  c: { tmp: string; url: string; env: NodeJS.ProcessEnv; repo: BenchRepo; log(m: string): void },
  runs: number,
  runtime: Runtime,
): Promise<WebhookResults> {
  const data = path.join(c.tmp, `webhooks-${runtime}`);
  c = { ...c, env: { ...c.env, REV_RELAY_URL: 'none' } }; // direct webhooks here; the relay has its own bench
  const toes = new Toes(data, c.env, runtime);
  // The target is for a change with no install (the bench app has no dependencies).
  await toes.cli(['config', 'set', APP, 'install', 'false']);
  await toes.cli(['deploy', APP, '--from', c.url]);
  const secret = (await toes.cli(['webhook', 'enable', APP])).json as unknown as { secret: string };
  // An app with webhooks and no source: its few deploys fail at once, so the burst measures the receiver.
  const burstSecret = ((await toes.cli(['webhook', 'enable', 'acks'])).json as unknown as { secret: string }).secret;
  const logFile = path.join(c.tmp, `serve-${runtime}.log`);
  const serve = await startServer(['serve', '--port', '0'], { ...c.env, DATA_DIR: data }, logFile, runtime);
  const r: WebhookResults = {
    runtime,
    toLiveMs: [],
    ackMs: [],
    acksPerSec: [],
    fdatasyncPerSec: 0,
    idleRssKb: 0,
    afterBurstRssKb: 0,
    burst: 6000,
  };
  try {
    await new Promise((res) => setTimeout(res, 1000));
    r.idleRssKb = rssKb(serve.child.pid!);
    const link = path.join(data, 'apps', APP, 'current');
    for (let i = 0; i < runs; i++) {
      await c.repo.changeOneLine();
      const before = fs.readlinkSync(link);
      const t0 = performance.now();
      const ack = await post(serve.url, `/hooks/${APP}`, standard(secret.secret, { type: 'save', ref: 'refs/heads/main', repo: 'me/app', timestamp: new Date().toISOString() }));
      if (ack.status !== 202) throw new Error(`webhook refused: ${ack.status} ${JSON.stringify(ack.body)}`);
      r.ackMs.push(ack.ms);
      r.toLiveMs.push(await untilLive(link, before, t0));
      // Let the deploy finish its health check and record before the next change.
      await new Promise((res) => setTimeout(res, 300));
    }
    c.log(`webhooks: ${r.burst} signed deliveries, ${runs} bursts`);
    const b = await bursts(serve, burstSecret, r.burst, runs);
    r.acksPerSec = b.acksPerSec;
    r.afterBurstRssKb = b.afterBurstRssKb;
    r.fdatasyncPerSec = fdatasyncRate(data);
  } finally {
    await stopServer(serve.child);
  }
  if (runtime !== 'node') return r;
  c.log(`webhooks: the same bursts, daemon started with NODE_OPTIONS=${SMALL_HEAP}`);
  const smallData = path.join(c.tmp, 'webhooks-small');
  const smallSecret = ((await new Toes(smallData, c.env, runtime).cli(['webhook', 'enable', 'acks'])).json as unknown as { secret: string }).secret;
  const small = await startServer(['serve', '--port', '0'], { ...c.env, DATA_DIR: smallData, NODE_OPTIONS: SMALL_HEAP }, path.join(c.tmp, 'serve-small.log'), runtime);
  try {
    await new Promise((res) => setTimeout(res, 1000));
    const idle = rssKb(small.child.pid!);
    r.small = { idleRssKb: idle, ...(await bursts(small, smallSecret, r.burst, runs)) };
  } finally {
    await stopServer(small.child);
  }
  return r;
}

async function bursts(serve: Server, secret: string, n: number, runs: number): Promise<{ acksPerSec: number[]; afterBurstRssKb: number }> {
  const acksPerSec: number[] = [];
  for (let i = 0; i < runs; i++) {
    acksPerSec.push(await burst(serve.url, '/hooks/acks', secret, n, 32));
    await new Promise((res) => setTimeout(res, 500));
  }
  await new Promise((res) => setTimeout(res, 2000));
  return { acksPerSec, afterBurstRssKb: rssKb(serve.child.pid!) };
}


export function webhookSummary(r: WebhookResults): string {
  const ms = (x: number) => `${Math.round(x)} ms`;
  return [
    `webhooks (toes serve on ${r.runtime}, its deploy workers on Bun; medians):`,
    `  webhook -> live, one-commit change, no install: ${ms(median(r.toLiveMs))} (target <= 400 ms: ${median(r.toLiveMs) <= 400 ? 'PASS' : 'MISS'}; runs ${r.toLiveMs.map(Math.round).join(', ')} ms), answered in ${ms(median(r.ackMs))}`,
    `  signed webhooks acknowledged, each durably queued: ${Math.round(median(r.acksPerSec))}/s (target > 3,000/s; runs ${r.acksPerSec.map(Math.round).join(', ')});` +
      ` one fdatasync per event would allow ${Math.round(r.fdatasyncPerSec)}/s on this disk`,
    `  daemon memory: ${(r.idleRssKb / 1024).toFixed(1)} MB idle after start, ${(r.afterBurstRssKb / 1024).toFixed(1)} MB idle after the bursts (target < 60 MB)`,
    ...(r.small
      ? [
          `  with NODE_OPTIONS=${SMALL_HEAP}: ${(r.small.idleRssKb / 1024).toFixed(1)} MB idle after start, ${(r.small.afterBurstRssKb / 1024).toFixed(1)} MB after the bursts, ` +
            `${Math.round(median(r.small.acksPerSec))}/s acknowledged (runs ${r.small.acksPerSec.map(Math.round).join(', ')})`,
        ]
      : []),
  ].join('\n');
}
