// The relay's memory under one sender of 900 KB webhooks at full speed (the relay's rates
// raised out of the way), the embedded relay (`--data`): peak RSS (VmHWM from /proc) with
// no instance linked, and with a linked instance that never reads its socket. Then the
// instance reads everything and acks it: every webhook answered 202 is delivered or was
// dropped (and logged) by the per-instance byte cap, none lost.
// Run alone: node dist/bench/relay-memory.js [seconds] [bun|node]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { standard } from '../test/fixtures/hooks.js';
import { startServer, stopServer, type Server } from './servers.js';
import type { Runtime } from './toes.js';

export interface RelayMemoryCase {
  linked: boolean;
  seconds: number;
  accepted: number;
  /** Answered otherwise (429 or 507): not accepted, so not owed. */
  refused: number;
  peakRssMb: number;
  delivered: number;
  dropped: number;
  lost: number;
}

export interface RelayMemoryResults {
  runtime: Runtime;
  bodyKb: number;
  cases: RelayMemoryCase[];
}

const BODY_KB = 900;
const CONNS = 4;

function peakKb(pid: number): number {
  const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function register(url: string): Promise<{ id: string; secret: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const res = await fetch(`${url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash: createHash('sha256').update(secret).digest('hex') }) });
  if (res.status !== 201) throw new Error(`relay memory bench: registration answered ${res.status}`);
  return { id, secret };
}

/** Posts the same 900 KB webhook over CONNS keep-alive connections until the time is up. */
async function flood(url: string, pathname: string, seconds: number): Promise<{ accepted: string[]; refused: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS });
  const d = standard('whsec_' + Buffer.alloc(24, 3).toString('base64'), { type: 'save', ref: 'refs/heads/main', pad: 'x'.repeat(BODY_KB * 1024) });
  const u = new URL(url);
  const accepted: string[] = [];
  let refused = 0;
  const until = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ hostname: u.hostname, port: u.port, path: pathname, method: 'POST', agent, headers: { ...d.headers, 'content-length': d.body.length } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          if (res.statusCode === 202) accepted.push(JSON.parse(text).id);
          else refused++;
          resolve();
        });
      });
      req.on('error', reject);
      req.end(d.body);
    });
  await Promise.all(Array.from({ length: CONNS }, async () => {
    while (Date.now() < until) await one();
  }));
  agent.destroy();
  return { accepted, refused };
}

/** A linked instance whose socket is paused from the start: it reads nothing until `drain`. */
async function sleepyInstance(url: string, id: string, secret: string) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/connect`, { headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id }, maxPayload: 4 * 1024 * 1024 });
  const delivered = new Set<string>();
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.type !== 'delivery') return;
    delivered.add(f.id);
    ws.send(JSON.stringify({ type: 'ack', id: f.id }));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.pause();
  return { delivered, drain: () => socket.resume(), close: () => ws.close() };
}

async function waitFor(ok: () => Promise<boolean> | boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`relay memory bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function oneCase(root: string, env: NodeJS.ProcessEnv, runtime: Runtime, seconds: number, linked: boolean): Promise<RelayMemoryCase> {
  const dir = path.join(root, linked ? 'linked' : 'offline');
  fs.mkdirSync(dir, { recursive: true });
  // Rates out of the way: the sender goes as fast as the relay takes it. The heartbeat is
  // longer than the round, so the sleeping link is not dropped as dead before the end.
  const relay: Server = await startServer(['relay', '--port', '0', '--data', dir, '--rate', '1000000', '--address-rate', '1000000', '--heartbeat', String(seconds * 4)], env, path.join(root, `relay-${linked ? 'linked' : 'offline'}.log`), runtime);
  try {
    const { id, secret } = await register(relay.url);
    const inst = linked ? await sleepyInstance(relay.url, id, secret) : undefined;
    if (inst) await waitFor(() => relay.lines().some((l) => l.event === 'connected'), 'the link');
    const { accepted, refused } = await flood(relay.url, `/hooks/${id}/app`, seconds);
    const peakRssMb = Math.round(peakKb(relay.child.pid!) / 1024);
    // Everything that waits is read and acked now.
    const reader = inst ?? (await sleepyInstance(relay.url, id, secret));
    reader.drain();
    const pending = async () => (await (await fetch(`${relay.url}/health`)).json()).pending;
    await waitFor(async () => (await pending()) === 0, 'every waiting webhook acked');
    reader.close();
    const dropped = new Set(relay.lines().filter((l) => l.event === 'dropped').map((l) => l.id));
    const lost = accepted.filter((a) => !reader.delivered.has(a) && !dropped.has(a)).length;
    return { linked, seconds, accepted: accepted.length, refused, peakRssMb, delivered: reader.delivered.size, dropped: dropped.size, lost };
  } finally {
    await stopServer(relay.child);
  }
}

export async function relayMemoryRounds(c: { tmp: string; env: NodeJS.ProcessEnv; log(m: string): void }, runtime: Runtime, seconds = 60): Promise<RelayMemoryResults> {
  const root = path.join(c.tmp, `relay-memory-${runtime}`);
  const cases: RelayMemoryCase[] = [];
  for (const linked of [false, true]) {
    c.log(`relay memory on ${runtime}: ${BODY_KB} KB webhooks for ${seconds} s, ${linked ? 'a linked instance that never reads' : 'no instance linked'}`);
    cases.push(await oneCase(root, c.env, runtime, seconds, linked));
  }
  return { runtime, bodyKb: BODY_KB, cases };
}

export function relayMemorySummary(r: RelayMemoryResults): string {
  return [
    `relay memory (toes relay --data on ${r.runtime}, one sender of ${r.bodyKb} KB webhooks at full speed, ${CONNS} connections, default --max-pending-bytes):`,
    ...r.cases.map(
      (k) =>
        `  ${k.linked ? 'linked, never reads' : 'no instance linked '}: peak RSS ${k.peakRssMb} MB (target <= 256 MB) over ${k.seconds} s; ${k.accepted} accepted, ${k.refused} refused; afterwards ${k.delivered} delivered, ${k.dropped} dropped by the byte cap (logged), ${k.lost} lost`,
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.argv[2] ?? 60);
  const runtime = (process.argv[3] ?? 'node') as Runtime;
  const tmp = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'toes-bench-relay-mem-'));
  relayMemoryRounds({ tmp, env: process.env, log: (m) => console.error(m) }, runtime, seconds)
    .then((r) => console.log(relayMemorySummary(r)))
    .finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
}
