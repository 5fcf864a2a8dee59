// `toes serve` before and after a change, in one run: this checkout against another built
// checkout (BENCH_BASELINE, e.g. a worktree of main), interleaved round by round and in
// alternating order, so the shared machine's load falls on both alike. Per runtime:
// - start-up: spawn until the daemon logs `listening` (read from its stdout as it comes);
// - idle RSS one second after that;
// - signed webhooks acknowledged per second (each durably queued before its 202), a burst
//   over 32 keep-alive connections, the daemon's CPU time per webhook in it (steadier than
//   the rate on a shared machine), and RSS again 2 s after it (the pushes start deploys of
//   an app with no source, which fail in their workers: what the daemon loads for a deploy
//   is loaded by then);
// - `toes relay` (the single-process one, on --data) and a `toes serve` linked to it:
//   relay-accept -> instance-ack, as the relay logs it, for webhooks sent one at a time, and
//   the CPU time per webhook of both processes.
// Usage: npm run build && BENCH_BASELINE=/path/to/other/checkout node dist/bench/serve-ab.js
// (BENCH_RUNS rounds, default 5; BENCH_BURST webhooks per burst, default 3000;
// BENCH_RUNTIMES=node or bun for one of them; BENCH_RELAY webhooks one at a time through the
// relay each round, default 200; BENCH_FOLLOW=0 for pushes that queue nothing).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './report.js';
import { post, standard } from '../test/fixtures/hooks.js';
import { burst, cpuMs, rssKb, startServer, stopServer, type Server } from './servers.js';
import { binDir, projectRoot, RUNTIMES, type Runtime } from './toes.js';

interface Figures {
  startMs: number[];
  idleRssKb: number[];
  acksPerSec: number[];
  afterBurstRssKb: number[];
  /** The daemon's own CPU time per acknowledged webhook in the burst (steadier than the rate on a shared machine). */
  cpuPerAckMs: number[];
  relayAckMs: number[];
  /** CPU time per webhook through the relay, of the relay and of the linked `toes serve`. */
  relayCpuMs: number[];
  linkedCpuMs: number[];
}

const runs = Number(process.env.BENCH_RUNS ?? 5);
const burstSize = Number(process.env.BENCH_BURST ?? 3000);
const relayed = Number(process.env.BENCH_RELAY ?? 200);
const follow = process.env.BENCH_FOLLOW !== '0';
const baseline = process.env.BENCH_BASELINE;
const runtimes = (process.env.BENCH_RUNTIMES?.split(',') ?? RUNTIMES) as Runtime[];
if (!baseline || !fs.existsSync(path.join(baseline, 'bin/toes'))) {
  console.error('BENCH_BASELINE must name another built toes-rev checkout (one with bin/toes and dist/).');
  process.exit(2);
}
const checkouts = { before: path.resolve(baseline), after: projectRoot };
// Bun from the bun package, as the other benches run it.
const PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ''}`;
type Side = keyof typeof checkouts;

function cli(side: Side, data: string, runtime: Runtime, args: string[], relay = 'none'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(checkouts[side], 'bin/toes'), [...args, '--json'], { env: { ...process.env, PATH, DATA_DIR: data, TOES_RUNTIME: runtime, REV_RELAY_URL: relay }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`toes ${args.join(' ')} exited ${code}`))));
  });
}

async function round(side: Side, runtime: Runtime, data: string, secret: string, into: Figures): Promise<void> {
  const t0 = performance.now();
  const child = spawn(path.join(checkouts[side], 'bin/toes'), ['serve', '--port', '0', '--json'], {
    env: { ...process.env, PATH, DATA_DIR: data, TOES_RUNTIME: runtime, REV_RELAY_URL: 'none' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening"[^\n]*"url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('close', () => reject(new Error(`toes serve (${side}, ${runtime}) exited: ${out}`)));
  });
  into.startMs.push(performance.now() - t0);
  child.stdout.resume();
  child.stdout.removeAllListeners('data');
  try {
    await new Promise((r) => setTimeout(r, 1000));
    into.idleRssKb.push(rssKb(child.pid!));
    const cpu0 = cpuMs(child.pid!);
    into.acksPerSec.push(await burst(url, '/hooks/acks', secret, burstSize, 32));
    into.cpuPerAckMs.push((cpuMs(child.pid!) - cpu0) / burstSize);
    await new Promise((r) => setTimeout(r, 2000));
    into.afterBurstRssKb.push(rssKb(child.pid!));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
}

async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`serve-ab: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh relay and instance: `relayed` webhooks one at a time, each acked before the next. */
async function relayRound(side: Side, runtime: Runtime, dir: string, into: Figures): Promise<void> {
  const bin = path.join(checkouts[side], 'bin/toes');
  const env = { ...process.env, PATH };
  fs.mkdirSync(dir, { recursive: true });
  const relay = await startServer(['relay', '--port', '0', '--data', path.join(dir, 'relay')], env, path.join(dir, 'relay.log'), runtime, bin);
  let serve: Server | undefined;
  try {
    const data = path.join(dir, 'instance');
    const hook = JSON.parse(await cli(side, data, runtime, ['webhook', 'enable', 'acks'], relay.url)) as { url: string; secret: string };
    serve = await startServer(['serve', '--port', '0'], { ...env, DATA_DIR: data, REV_RELAY_URL: relay.url }, path.join(dir, 'serve.log'), runtime, bin);
    await until(() => relay.lines().some((l) => l.event === 'connected'), 'the instance link');
    const acked = () => relay.lines().filter((l) => l.event === 'acked');
    const hookPath = new URL(hook.url).pathname;
    const cpu0 = [cpuMs(relay.child.pid!), cpuMs(serve.child.pid!)];
    for (let i = 0; i < relayed; i++) {
      const res = await post(relay.url, hookPath, standard(hook.secret, { type: 'save', ref: 'refs/heads/main' }));
      if (res.status !== 202) throw new Error(`relay (${side}, ${runtime}) answered ${res.status}`);
      await until(() => acked().length > i, 'an ack');
    }
    into.relayCpuMs.push((cpuMs(relay.child.pid!) - cpu0[0]) / relayed);
    into.linkedCpuMs.push((cpuMs(serve.child.pid!) - cpu0[1]) / relayed);
    into.relayAckMs.push(...acked().map((l) => l.ms as number));
  } finally {
    if (serve) await stopServer(serve.child);
    await stopServer(relay.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-ab-'));
const results: Record<string, Figures> = {};
try {
  for (const side of ['before', 'after'] as Side[]) {
    for (const rt of runtimes) results[`${side}/${rt}`] = { startMs: [], idleRssKb: [], acksPerSec: [], afterBurstRssKb: [], cpuPerAckMs: [], relayAckMs: [], relayCpuMs: [], linkedCpuMs: [] };
  }
  for (let i = 0; i < runs; i++) {
    const order: Side[] = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
    for (const rt of runtimes) {
      for (const side of order) {
        const k = `${side}/${rt}`;
        // A fresh data directory each round: the queue and delivery log of the last burst
        // would otherwise be read back at start and grow the next round's memory.
        const data = path.join(tmp, `${side}-${rt}-${i}`);
        fs.mkdirSync(data, { recursive: true });
        const secret = (JSON.parse(await cli(side, data, rt, ['webhook', 'enable', 'acks'])) as { secret: string }).secret;
        // Following a branch, its pushes are queued and start deploys (which fail at once: the
        // app has no source). BENCH_FOLLOW=0: they are answered 202 ignored, so the burst
        // measures the HTTP side, the signature check and the delivery log alone.
        if (follow) await cli(side, data, rt, ['config', 'set', 'acks', 'branch', 'main']);
        await round(side, rt, data, secret, results[k]);
        fs.rmSync(data, { recursive: true, force: true });
        if (relayed > 0) await relayRound(side, rt, path.join(tmp, `relay-${k.replace('/', '-')}-${i}`), results[k]);
      }
    }
    console.error(`round ${i + 1} of ${runs} done`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

const pctl = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%`;
console.log(`toes serve and toes relay, before (${checkouts.before}) and after (this checkout), medians of ${runs} interleaved rounds, ${burstSize} webhooks a burst, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}:`);
for (const rt of runtimes) {
  const b = results[`before/${rt}`];
  const a = results[`after/${rt}`];
  const row = (name: string, f: (x: Figures) => number[], fmt: (n: number) => string) =>
    `  ${name.padEnd(28)} ${fmt(median(f(b))).padStart(10)} ${fmt(median(f(a))).padStart(10)}  ${pct(median(f(b)), median(f(a)))}  (runs before ${f(b).map((n) => fmt(n)).join(', ')}; after ${f(a).map((n) => fmt(n)).join(', ')})`;
  console.log(`${rt}:                            before      after`);
  console.log(row('start-up to listening', (x) => x.startMs, (n) => `${Math.round(n)} ms`));
  console.log(row('idle RSS', (x) => x.idleRssKb, (n) => `${(n / 1024).toFixed(1)} MB`));
  console.log(row('webhooks acknowledged', (x) => x.acksPerSec, (n) => `${Math.round(n)}/s`));
  console.log(row('CPU per acknowledged webhook', (x) => x.cpuPerAckMs, (n) => `${n.toFixed(3)} ms`));
  console.log(row('RSS after the burst', (x) => x.afterBurstRssKb, (n) => `${(n / 1024).toFixed(1)} MB`));
  if (relayed > 0) {
    const all = (f: Figures) => `${f.relayAckMs.length} webhooks, p99 ${pctl(f.relayAckMs, 99).toFixed(1)} ms`;
    console.log(row('relay CPU per webhook', (x) => x.relayCpuMs, (n) => `${n.toFixed(2)} ms`));
    console.log(row('linked serve CPU per webhook', (x) => x.linkedCpuMs, (n) => `${n.toFixed(2)} ms`));
    console.log(`  ${'relay accept -> ack'.padEnd(28)} ${`${median(b.relayAckMs).toFixed(1)} ms`.padStart(10)} ${`${median(a.relayAckMs).toFixed(1)} ms`.padStart(10)}  ${pct(median(b.relayAckMs), median(a.relayAckMs))}  (before ${all(b)}; after ${all(a)})`);
  }
}
console.log(`BENCH_JSON ${JSON.stringify({ runs, burst: burstSize, results })}`);
