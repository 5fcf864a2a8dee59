// The public relay as a cluster, measured on this machine: 3 nats-server nodes (R=3), 3
// relay nodes (`toes relay --nats`) and HAProxy, all on loopback, with the instances' side
// in a few worker processes holding the WebSockets.
// - memory per idle link on a relay node, with N instances (default 10,000) connected, and
//   what the cluster's CPU is meanwhile;
// - sustained webhooks per second, posted through HAProxy to random instances, accepted
//   (R=3, acknowledged by a quorum) and delivered, and accept -> ack times (the relay's
//   `at` to the instance's ack; everything runs on one clock);
// - the same run with a relay node and the NATS stream leader killed -9 midway: webhooks
//   answered 202 and never queued on their instance (lost), and queued twice.
// Everything is bounded in count and time, targets only 127.0.0.1, and stops by itself.
// Instances connect to the relay nodes directly, spread over the three: HAProxy would need
// two descriptors per link, and this machine allows 20,000 per process.
// - one linked instance taking 1,500 webhooks 16 at a time;
// - each after a first run as large as the sustained one (reported as "cold"): a node just
//   started also compiles its code, once;
// - for each run, CPU from /proc per webhook delivered (NATS servers, relay nodes), counted
//   until the streams are empty again (a design that removes acked webhooks later pays then).
// Run alone: `node dist/bench/relay-cluster.js [instances] [webhooks]` (BENCH_CLUSTER_FAULTS=0
// leaves out the round with kills). With BENCH_BASELINE=/path/to/another/built/checkout, its
// relay nodes and this checkout's run in turn (BENCH_ROUNDS rounds each, default 1, order
// alternating), without the kills, and the medians are printed side by side.
// BENCH_PROFILE=DIR: each relay node writes a CPU profile (.cpuprofile, for Chrome's or
// VS Code's profiler) to DIR, from a clean stop at the end; profiling costs CPU, so leave it
// out of runs whose figures count.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { encodeDelivery, NatsLayout, SHARDS } from '../src/hooks/relay/nats/layout.js';
import { connect } from '@nats-io/transport-node';
import { NatsRelayStore } from '../src/hooks/relay/nats/store.js';
import { secretHash } from '../src/hooks/common/relay-protocol.js';
import { fakeInstance, type FakeInstance } from '../test/fixtures/fake-instance.js';
import { standard } from '../test/fixtures/hooks.js';
import { startRelayCluster, type RelayCluster } from '../test/fixtures/relay-cluster.js';
import { publishFloor } from './publish-floor.js';
import { cpuMs, rssKb } from './servers.js';

export interface ClusterRun {
  accepted: number;
  /** Accepted per second, from the first POST to the last 202. */
  acceptedPerSec: number;
  /** Delivered (acked by the instance) per second, from the first POST to the last ack. */
  deliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  refused: Record<string, number>;
  lost: number;
  queuedTwice: number;
  /** Deliveries a link received again (after a reconnect or a lost ack); dropped by id on the instance. */
  resent: number;
  /** CPU ms per webhook accepted, from /proc: the 3 NATS servers, the 3 relay nodes. */
  natsMs: number;
  relayMs: number;
  /**
   * What a bare R=3 publish of the same size cost the NATS servers at this run's rate,
   * measured right after it on the same servers (publish-floor.ts): the part of `natsMs`
   * no relay design can remove, which follows the machine's load as `natsMs` does.
   */
  natsFloorMs?: number;
}

export interface ClusterResults {
  instances: number;
  linkKb: number[];
  natsKbPerLink: number[];
  /** CPU a second with every link up and nothing to deliver (heartbeats, the taps' pulls, the watches). */
  idle: { natsMsPerSec: number; relayMsPerSec: number };
  /**
   * The first webhooks after the nodes started, as many as `steady` and spread the same way:
   * the same work plus the runtime compiling the nodes' hot code, which a process pays once.
   */
  cold: ClusterRun;
  /** One webhook at a time: accept -> ack with nothing else going on. */
  single: ClusterRun;
  steady: ClusterRun;
  /** One linked instance taking 1,500 webhooks 16 at a time. */
  one: ClusterRun;
  /** Left out with BENCH_CLUSTER_FAULTS=0. */
  faults?: ClusterRun;
  load: { start: number[]; end: number[] };
}

const SECRET = 'whsec_' + Buffer.alloc(24, 5).toString('base64');
const WORKERS = 4;
const here = fileURLToPath(import.meta.url);

type ToWorker = { type: 'start'; relays: string[]; instances: { id: string; secret: string }[] } | { type: 'report' } | { type: 'stop' };
type FromWorker = { type: 'linked'; n: number } | { type: 'report'; acks: [string, number][]; queuedTwice: number; resent: number; linked: number };

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function until(ok: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`relay cluster bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A worker process holding a share of the instances' links. */
class Worker {
  linked = 0;
  private waiting: ((m: FromWorker) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      if (m.type === 'linked') this.linked = m.n;
      else this.waiting.shift()?.(m);
    });
  }
  send(m: ToWorker): void {
    this.child.send(m);
  }
  report(): Promise<Extract<FromWorker, { type: 'report' }>> {
    return new Promise((r) => {
      this.waiting.push(r as (m: FromWorker) => void);
      this.send({ type: 'report' });
    });
  }
}

/** The worker side: links for its instances, spread over the relay nodes, reconnecting to the next node when one goes. */
function runWorker(): void {
  const links: FakeInstance[] = [];
  let acks: [string, number][] = [];
  const wall = () => performance.timeOrigin + performance.now();
  let k = 0;
  let tick: NodeJS.Timeout | undefined;
  process.on('message', (m: ToWorker) => {
    if (m.type === 'start') {
      const next = () => m.relays[k++ % m.relays.length];
      // In steps, so 2,500 handshakes do not land on the relays in one tick.
      void (async () => {
        for (const [i, inst] of m.instances.entries()) {
          links.push(fakeInstance(next, inst.id, inst.secret, { onDelivery: (f) => acks.push([f.id, wall() - f.at]) }));
          if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
        }
      })();
      tick ??= setInterval(() => process.send!({ type: 'linked', n: links.filter((l) => l.connected()).length }), 500);
      tick.unref();
    } else if (m.type === 'report') {
      const queuedTwice = links.reduce((n, l) => n + (l.queued.length - new Set(l.queued).size), 0);
      const resent = links.reduce((n, l) => n + l.duplicates, 0);
      process.send!({ type: 'report', acks, queuedTwice, resent, linked: links.filter((l) => l.connected()).length });
      acks = [];
    } else {
      links.forEach((l) => l.close());
      setTimeout(() => process.exit(0), 200);
    }
  });
}

/** Posts `total` webhooks through the balancer to random instances, `conns` at a time, for at most `maxMs`; `midway` runs once half are accepted. */
async function drive(url: string, ids: string[], total: number, conns: number, maxMs: number, midway?: () => Promise<void>) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const u = new URL(url);
  const accepted = new Map<string, string>();
  const refused: Record<string, number> = {};
  let sent = 0;
  let lastAccept = 0;
  let fired = false;
  const t0 = performance.now();
  const postOne = (inst: string) =>
    new Promise<{ status: number; id?: string }>((resolve) => {
      const d = standard(SECRET, { type: 'save', ref: 'refs/heads/main', n: sent });
      const req = http.request({ host: u.hostname, port: u.port, path: `/hooks/${inst}/app${sent % 4}`, method: 'POST', agent, headers: { ...d.headers, 'content-length': String(d.body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let id: string | undefined;
          try {
            id = JSON.parse(Buffer.concat(chunks).toString()).id;
          } catch {}
          resolve({ status: res.statusCode ?? 0, id });
        });
        res.on('error', () => resolve({ status: 0 }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, id: err.code }));
      req.end(d.body);
    });
  await Promise.all(
    Array.from({ length: conns }, async () => {
      while (sent < total && performance.now() - t0 < maxMs) {
        sent++;
        const inst = ids[Math.floor(Math.random() * ids.length)];
        const r = await postOne(inst);
        if (r.status === 202 && r.id) {
          accepted.set(r.id, inst);
          lastAccept = performance.now();
        } else {
          const k = r.status === 0 ? (r.id ?? 'error') : String(r.status);
          refused[k] = (refused[k] ?? 0) + 1;
          if (r.status === 0) await new Promise((res) => setTimeout(res, 20));
        }
        if (midway && !fired && accepted.size >= total / 2) {
          fired = true;
          void midway();
        }
      }
    }),
  );
  agent.destroy();
  return { accepted, refused, t0, lastAccept };
}

/** CPU seconds a process has used (user + system); NaN once it is gone. */
function cpuS(pid: number): number {
  try {
    return cpuMs(pid) / 1000;
  } catch {
    return NaN;
  }
}

/** A NATS server's JetStream API requests and messages in so far (its monitoring port). */
async function natsCounters(c: RelayCluster): Promise<({ api: number; msgsIn: number } | undefined)[]> {
  return Promise.all(
    c.nats.nodes.map(async (x) => {
      try {
        const [jsz, varz] = await Promise.all([fetch(`${x.monitor}/jsz`).then((r) => r.json()), fetch(`${x.monitor}/varz`).then((r) => r.json())]);
        return { api: jsz.api.total as number, msgsIn: varz.in_msgs as number };
      } catch {
        return undefined;
      }
    }),
  );
}

/** Webhooks waiting in the streams, from a relay node that is up (-1 when none answers). */
async function waitingIn(c: RelayCluster): Promise<number> {
  for (const p of c.ports) {
    try {
      const r = await fetch(`http://127.0.0.1:${p}/health`);
      if (r.status === 200) return ((await r.json()) as { pending?: number }).pending ?? -1;
    } catch {}
  }
  return -1;
}

function cpuOf(c: RelayCluster, workers: Worker[]): Record<string, number> {
  return {
    nats: c.nats.nodes.reduce((s, x) => s + cpuS(x.proc!.child.pid!), 0),
    relays: c.relays.reduce((s, r) => s + cpuS(r.pid), 0),
    haproxy: cpuS(c.balancer.proc.child.pid!),
    instances: workers.reduce((s, w) => s + cpuS(w.child.pid!), 0),
    sender: cpuS(process.pid),
  };
}

async function idleCpu(c: RelayCluster, workers: Worker[], ms: number): Promise<ClusterResults['idle']> {
  const cpu0 = cpuOf(c, workers);
  await new Promise((r) => setTimeout(r, ms));
  const cpu1 = cpuOf(c, workers);
  const perSec = (k: string) => Math.round(((cpu1[k] - cpu0[k]) * 1000 * 10) / (ms / 1000)) / 10;
  return { natsMsPerSec: perSec('nats'), relayMsPerSec: perSec('relays') };
}

async function run(c: RelayCluster, workers: Worker[], ids: string[], total: number, log: (m: string) => void, midway?: () => Promise<void>, conns = 48): Promise<ClusterRun> {
  for (const w of workers) await w.report(); // start from zero
  const cpu0 = cpuOf(c, workers);
  const ns0 = await natsCounters(c);
  const { accepted, refused, t0, lastAccept } = await drive(c.url, ids, total, conns, 120_000, midway);
  const acks = new Map<string, number>();
  let queuedTwice = 0;
  let resent = 0;
  const collect = async () => {
    for (const w of workers) {
      const r = await w.report();
      for (const [id, ms] of r.acks) if (!acks.has(id)) acks.set(id, ms);
      queuedTwice += r.queuedTwice;
      resent += r.resent;
    }
  };
  const deadline = Date.now() + 120_000;
  let lastAck = performance.now();
  for (;;) {
    queuedTwice = 0;
    resent = 0;
    const before = acks.size;
    await collect();
    if (acks.size > before) lastAck = performance.now();
    if ([...accepted.keys()].every((id) => acks.has(id)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  // Acked webhooks still in the streams are work not done yet: counted once they are gone.
  const empty = Date.now() + 30_000;
  while (Date.now() < empty && (await waitingIn(c)) !== 0) await new Promise((r) => setTimeout(r, 100));
  const cpu1 = cpuOf(c, workers);
  const ns1 = await natsCounters(c);
  // Counters of a node killed midway start again from zero: only nodes that lived through it count.
  const kept = ns1.map((x, i) => (x && ns0[i] && x.api >= ns0[i]!.api ? i : -1)).filter((i) => i >= 0);
  const per = (k: 'api' | 'msgsIn') => (kept.reduce((s, i) => s + ns1[i]![k] - ns0[i]![k], 0) / Math.max(1, total)).toFixed(1);
  log(`relay cluster: NATS work per webhook (${kept.length} of ${ns1.length} nodes): ${per('api')} JetStream API requests, ${per('msgsIn')} messages in`);
  log(`relay cluster: CPU seconds used: ${Object.keys(cpu0).map((k) => `${k} ${(cpu1[k] - cpu0[k]).toFixed(1)}`).join(', ')}`);
  const lat = [...accepted.keys()].map((id) => acks.get(id)).filter((x): x is number => x !== undefined);
  const lostIds = [...accepted.keys()].filter((id) => !acks.has(id));
  const lost = lostIds.length;
  if (lost > 0 && process.env.BENCH_DEBUG) {
    const insts = new Set(lostIds.map((id) => accepted.get(id)!));
    log(`lost: ${lostIds.slice(0, 5).join(' ')} of instances ${[...insts].slice(0, 10).join(' ')}`);
    c.relays.forEach((r, i) => {
      const mine = r.events().filter((e) => insts.has(e.instance) && !['accepted', 'acked'].includes(e.event));
      log(`relay ${i + 1}: ${mine.map((e) => `${e.at.slice(14, 23)} ${e.event} ${e.instance} ${e.reason ?? ''}`).join('\n  ')}`);
      const errs = new Map<string, number>();
      for (const e of r.events()) if (e.event === 'error') errs.set(String(e.reason).slice(0, 80), (errs.get(String(e.reason).slice(0, 80)) ?? 0) + 1);
      log(`relay ${i + 1} errors: ${JSON.stringify([...errs])}`);
    });
  }
  const r: ClusterRun = {
    accepted: accepted.size,
    acceptedPerSec: Math.round(accepted.size / ((lastAccept - t0) / 1000)),
    deliveredPerSec: Math.round((accepted.size - lost) / ((lastAck - t0) / 1000)),
    p50Ms: Math.round(pct(lat, 50) * 10) / 10,
    p99Ms: Math.round(pct(lat, 99) * 10) / 10,
    refused,
    lost,
    queuedTwice,
    resent,
    natsMs: Math.round(((cpu1.nats - cpu0.nats) * 1000 * 100) / Math.max(1, accepted.size)) / 100,
    relayMs: Math.round(((cpu1.relays - cpu0.relays) * 1000 * 100) / Math.max(1, accepted.size)) / 100,
  };
  log(`relay cluster: ${JSON.stringify(r)}`);
  return r;
}

/** Bare publishes at each run's rate (16 shards for traffic spread out, one for a single instance's). */
async function floors(c: RelayCluster, runs: { run: ClusterRun; n: number; streams: number; inFlight: number }[]): Promise<void> {
  const nc = await connect({ servers: c.nats.urls.split(','), user: c.nats.env.TOES_RELAY_NATS_USER, pass: c.nats.env.TOES_RELAY_NATS_PASSWORD });
  try {
    const natsMs = () => c.nats.nodes.reduce((s, x) => s + cpuMs(x.proc!.child.pid!), 0);
    // About what the relay stores for one of the bench's webhooks.
    const d = standard(SECRET, { type: 'save', ref: 'refs/heads/main', n: 0 });
    const bytes = encodeDelivery({ id: `rly_${'0'.repeat(32)}`, app: 'app0', at: Date.now(), headers: d.headers, body: d.body }).length;
    const [js, jsm] = [jetstream(nc), await jetstreamManager(nc)];
    for (const [k, x] of runs.entries()) {
      const f = await publishFloor(js, jsm, natsMs, { rate: x.run.acceptedPerSec, n: x.n, bytes, streams: x.streams, inFlight: x.inFlight, prefix: `floor${k}` });
      x.run.natsFloorMs = Math.round(f.ms * 100) / 100;
    }
  } finally {
    await nc.close();
  }
}

export async function relayClusterRounds(o: { instances?: number; webhooks?: number; log?: (m: string) => void; launcher?: string; faults?: boolean } = {}): Promise<ClusterResults> {
  const n = o.instances ?? 10_000;
  const total = o.webhooks ?? 30_000;
  const log = o.log ?? ((m: string) => process.stderr.write(`bench: ${m}\n`));
  const load = { start: os.loadavg().map((x) => Math.round(x * 100) / 100), end: [] as number[] };
  log(`relay cluster: starting 3 nats-server, 3 relay nodes, HAProxy (load ${load.start.join(' ')})`);
  const profile = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;
  // Bun (the default runtime) and Node take the same flags, each from its own variable.
  const profiling = profile ? { [process.env.TOES_RUNTIME === 'node' ? 'NODE_OPTIONS' : 'BUN_OPTIONS']: `--cpu-prof --cpu-prof-dir=${profile}` } : undefined;
  const c = await startRelayCluster({ args: ['--max-connections', '12000', '--max-instances', String(n + 10)], launcher: o.launcher, env: profiling });
  const workers: Worker[] = [];
  try {
    // Registered straight in the bucket: POST /instances allows one a second per address.
    log(`relay cluster: registering ${n} instances`);
    const store = await NatsRelayStore.open({ servers: c.nats.urls.split(','), env: c.nats.env, node: 'bench', maxAgeMs: 7 * 24 * 3600_000, log: () => {} });
    const instances = Array.from({ length: n }, (_, i) => ({ id: `bench${String(i).padStart(6, '0')}`, secret: `secret-${i}` }));
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < n) {
          const inst = instances[next++];
          await store.register(inst.id, secretHash(inst.secret));
        }
      }),
    );
    await store.close();

    // Memory per link as the slope between half and all of them linked: the young
    // generation a connection storm grows is not a per-link cost.
    const natsPids = c.nats.nodes.map((x) => x.proc!.child.pid!);
    const direct = c.ports.map((p) => `http://127.0.0.1:${p}`);
    const linksPerNode = () => c.relays.map((r) => r.events().filter((e) => e.event === 'connected').length - r.events().filter((e) => e.event === 'disconnected' || e.event === 'replaced').length);
    const half = Math.floor(n / 2);
    const linkUp = async (upTo: number) => {
      await until(() => workers.reduce((s, w) => s + w.linked, 0) >= upTo, `${upTo} links`, 300_000);
      await new Promise((r) => setTimeout(r, 10_000)); // idle, so what the storm left settles
      return { relays: c.relays.map((r) => rssKb(r.pid)), nats: natsPids.map(rssKb), links: linksPerNode() };
    };
    log(`relay cluster: ${half} links, then ${n}, from ${WORKERS} processes`);
    for (let i = 0; i < WORKERS; i++) {
      const w = new Worker(fork(here, ['--instances-worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      workers.push(w);
      w.send({ type: 'start', relays: direct, instances: instances.slice(0, half).filter((_, k) => k % WORKERS === i) });
    }
    const a = await linkUp(half);
    workers.forEach((w, i) => w.send({ type: 'start', relays: direct, instances: instances.slice(half).filter((_, k) => k % WORKERS === i) }));
    const b = await linkUp(n);
    const linkKb = c.relays.map((_, i) => Math.round(((b.relays[i] - a.relays[i]) / Math.max(1, b.links[i] - a.links[i])) * 10) / 10);
    // Links have no consumer of their own (one tap per relay node and shard): per link.
    const natsKbPerLink = natsPids.map((_, i) => Math.round(((b.nats[i] - a.nats[i]) / (n - half)) * 10) / 10);
    log(`relay cluster: links per node ${b.links.join('/')}, RSS ${b.relays.map((x) => Math.round(x / 1024)).join('/')} MB; KB per idle link ${linkKb.join('/')}; nats-server KB per link ${natsKbPerLink.join('/')}`);

    // Per webhook it weighs only on short runs, such as one at a time.
    const idle = await idleCpu(c, workers, 5_000);
    log(`relay cluster: idle with ${n} links: NATS ${idle.natsMsPerSec} ms of CPU a second, relays ${idle.relayMsPerSec}`);

    const ids = instances.map((i) => i.id);
    // A node just started also compiles its hot code meanwhile (JavaScriptCore's optimizing
    // tiers, on Bun, in threads of their own): sampled with perf (3,000 instances), those
    // threads took 16-32% of the nodes' CPU through the first 30,000 webhooks after start,
    // and still 11-26% early in the next 20,000. A relay runs for days, so that is a cost
    // per process, not per webhook: the runs that count come after a first one of the same
    // size (and a round to one instance), which is reported as it is ("cold").
    log(`relay cluster: the first ${total} webhooks after start (cold), then 1500 to one instance`);
    const cold = await run(c, workers, ids, total, log);
    await run(c, workers, ids.slice(0, 1), 1_500, log, undefined, 16);
    log('relay cluster: 300 webhooks one at a time');
    const single = await run(c, workers, ids, 300, log, undefined, 1);
    log(`relay cluster: sustained, ${total} webhooks through HAProxy`);
    const steady = await run(c, workers, ids, total, log);
    log('relay cluster: one instance, 1500 webhooks 16 at a time');
    const one = await run(c, workers, ids.slice(0, 1), 1_500, log, undefined, 16);
    await floors(c, [
      { run: steady, n: Math.min(total, 8_000), streams: SHARDS, inFlight: 48 },
      { run: one, n: 1_500, streams: 1, inFlight: 16 },
    ]);
    log(`relay cluster: a bare R=3 publish at each run's rate cost NATS ${steady.natsFloorMs} ms (steady) and ${one.natsFloorMs} ms (one instance)`);
    if (o.faults === false || process.env.BENCH_CLUSTER_FAULTS === '0') return { instances: n, linkKb, natsKbPerLink, idle, cold, single, steady, one, load: { ...load, end: os.loadavg().map((x) => Math.round(x * 100) / 100) } };
    log(`relay cluster: the same with relay node 1 and the NATS stream leader killed -9 midway`);
    const faults = await run(c, workers, ids, total, log, async () => {
      const nc = await connect({ servers: c.nats.urls.split(','), user: c.nats.env.TOES_RELAY_NATS_USER, pass: c.nats.env.TOES_RELAY_NATS_PASSWORD });
      const leader = (await (await jetstreamManager(nc)).streams.info(new NatsLayout('toes_relay').streamOf(instances[0].id))).cluster?.leader;
      await nc.close();
      log(`relay cluster: kill -9 of relay node 1 and of ${leader}`);
      await c.kill9(0);
      await c.nats.kill9(Math.max(0, c.nats.nodes.findIndex((x) => x.name === leader)));
    });
    load.end = os.loadavg().map((x) => Math.round(x * 100) / 100);
    return { instances: n, linkKb, natsKbPerLink, idle, cold, single, steady, one, faults, load };
  } finally {
    for (const w of workers) w.send({ type: 'stop' });
    await Promise.all(workers.map((w) => new Promise((r) => (w.child.exitCode !== null ? r(null) : w.child.once('exit', r)))));
    // A profile is written at a clean exit, not at the kill -9 that `stop` ends with.
    if (profile) {
      await Promise.all(c.relays.map((r) => r.stop()));
      log(`relay cluster: CPU profiles of the relay nodes in ${profile}`);
    }
    await c.stop();
  }
}

export function relayClusterSummary(r: ClusterResults): string {
  const row = (name: string, x: ClusterRun) =>
    `${name}: ${x.accepted} accepted at ${x.acceptedPerSec}/s, delivered at ${x.deliveredPerSec}/s, accept -> ack p50 ${x.p50Ms} ms p99 ${x.p99Ms} ms; CPU per webhook NATS ${x.natsMs} ms${x.natsFloorMs === undefined ? '' : ` (a bare publish at this rate: ${x.natsFloorMs} ms)`}, relays ${x.relayMs} ms; lost ${x.lost}, queued twice ${x.queuedTwice}, resent on a link ${x.resent}; not accepted ${JSON.stringify(x.refused)}`;
  return [
    `Relay cluster (3 nats-server R=3, 3 relay nodes, HAProxy; load ${r.load.start.join(' ')} -> ${r.load.end.join(' ')}):`,
    `${r.instances} instances linked; memory per idle link on each relay node ${r.linkKb.join(' / ')} KB; nats-server per link ${r.natsKbPerLink.join(' / ')} KB; CPU while idle: NATS ${r.idle.natsMsPerSec} ms a second, relays ${r.idle.relayMsPerSec} ms`,
    row(`the first ${r.cold.accepted} after start (cold)`, r.cold),
    row('one at a time', r.single),
    row('steady', r.steady),
    row('one instance, 16 at a time', r.one),
    ...(r.faults ? [row('relay node and NATS leader killed -9 midway', r.faults)] : []),
  ].join('\n');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Medians of each design's rounds, side by side. */
export function relayClusterAb(r: Record<'before' | 'after', ClusterResults[]>): string {
  const runs: [string, (x: ClusterResults) => ClusterRun][] = [
    [`${r.after[0]?.instances} instances, steady`, (x) => x.steady],
    [`${r.after[0]?.instances} instances, the first after start (cold)`, (x) => x.cold],
    ['one instance, 1,500 webhooks 16 at a time', (x) => x.one],
    ['one webhook at a time', (x) => x.single],
  ];
  const cols: [string, (x: ClusterRun) => number][] = [
    ['NATS CPU ms/webhook', (x) => x.natsMs],
    ['bare publish, NATS ms', (x) => x.natsFloorMs ?? NaN],
    ['relay CPU ms/webhook', (x) => x.relayMs],
    ['delivered/s', (x) => x.deliveredPerSec],
    ['p50 ms', (x) => x.p50Ms],
    ['p99 ms', (x) => x.p99Ms],
    ['lost', (x) => x.lost],
    ['queued twice', (x) => x.queuedTwice],
  ];
  const lines = [`| run | design | ${cols.map(([h]) => h).join(' | ')} |`, `| --- | --- |${cols.map(() => ' ---: |').join('')}`];
  for (const [name, pick] of runs) {
    for (const side of ['before', 'after'] as const) {
      const cell = (f: (x: ClusterRun) => number) => {
        const m = median(r[side].map((x) => f(pick(x))));
        return Number.isNaN(m) ? '-' : String(Math.round(m * 100) / 100);
      };
      lines.push(`| ${name} | ${side} | ${cols.map(([, f]) => cell(f)).join(' | ')} |`);
    }
  }
  const idle = (side: 'before' | 'after', k: keyof ClusterResults['idle']) => median(r[side].map((x) => x.idle[k]));
  lines.push('', `Idle with every link up, CPU ms a second: NATS ${idle('before', 'natsMsPerSec')} before, ${idle('after', 'natsMsPerSec')} after; relays ${idle('before', 'relayMsPerSec')} before, ${idle('after', 'relayMsPerSec')} after.`);
  const loads = [...r.before, ...r.after].flatMap((x) => [x.load.start[0], x.load.end[0]]);
  return `Relay cluster, before (BENCH_BASELINE) and after, medians of ${r.after.length} round(s) each, interleaved (1-min load ${Math.min(...loads)}-${Math.max(...loads)}):\n${lines.join('\n')}`;
}

if (process.argv[2] === '--instances-worker') runWorker();
else if (process.argv[1] && path.resolve(process.argv[1]) === here) {
  const [instances, webhooks] = process.argv.slice(2).map(Number);
  const baseline = process.env.BENCH_BASELINE;
  if (!baseline) {
    const r = await relayClusterRounds({ instances: instances || undefined, webhooks: webhooks || undefined });
    console.log(relayClusterSummary(r));
    console.log(`BENCH_JSON ${JSON.stringify({ relayCluster: r })}`);
    process.exit(0);
  }
  if (!fs.existsSync(path.join(baseline, 'bin/toes'))) {
    console.error('BENCH_BASELINE must name another built toes-rev checkout (one with bin/toes and dist/).');
    process.exit(2);
  }
  const r: Record<'before' | 'after', ClusterResults[]> = { before: [], after: [] };
  const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
  for (let k = 0; k < rounds; k++) {
    for (const side of k % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
      process.stderr.write(`bench: relay cluster: round ${k + 1}, ${side}\n`);
      const x = await relayClusterRounds({ instances: instances || undefined, webhooks: webhooks || undefined, launcher: side === 'before' ? path.join(path.resolve(baseline), 'bin/toes') : undefined, faults: false });
      console.log(`${side}: ${relayClusterSummary(x)}`);
      r[side].push(x);
    }
  }
  console.log(relayClusterAb(r));
  console.log(`BENCH_JSON ${JSON.stringify({ relayClusterAb: r })}`);
  process.exit(0);
}
