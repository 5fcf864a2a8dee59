// `toes relay` as a real process, with a raw WebSocket client standing in for an instance
// where the protocol itself is under test (wrong secrets, resends, malformed frames).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';
import { test } from 'node:test';
import { tmpDir } from '../../fixtures/cli.js';
import { startHaproxy } from '../../fixtures/haproxy.js';
import { ensureStopped, post, standard, startRelay, type Daemon } from '../../fixtures/hooks.js';
import { relayBackends, relayTest } from './backends.js';

async function registerInstance(relay: string, id = randomBytes(8).toString('hex')) {
  const secret = randomBytes(24).toString('base64url');
  const r = await fetch(`${relay}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash: createHash('sha256').update(secret).digest('hex') }) });
  assert.equal(r.status, 201, await r.text());
  return { id, secret };
}

interface Fake {
  ws: WebSocket;
  frames: any[];
  closed: Promise<number>;
  next(n?: number, timeoutMs?: number): Promise<any[]>;
}

/** A stand-in instance: connects, records every frame, acks only when told. */
function connect(relay: string, id: string, secret: string): Promise<Fake> {
  const ws = new WebSocket(`${relay.replace(/^http/, 'ws')}/connect`, { headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id } });
  const frames: any[] = [];
  let seen = 0;
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        closed,
        async next(n = 1, timeoutMs = 5_000) {
          const deadline = Date.now() + timeoutMs;
          while (frames.filter((f) => f.type === 'delivery').length < seen + n) {
            if (Date.now() > deadline) throw new Error(`expected ${n} more deliveries, have ${frames.length - seen}: ${JSON.stringify(frames)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          const all = frames.filter((f) => f.type === 'delivery');
          const out = all.slice(seen, seen + n);
          seen += n;
          return out;
        },
      }),
    );
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

/** Waits until the relay's count of waiting webhooks is `n`, and checks it stays there. */
async function pendingBecomes(relay: string, n: number): Promise<void> {
  const deadline = Date.now() + 6_000;
  let last: number;
  while ((last = (await health(relay)).pending) !== n) {
    assert.ok(Date.now() < deadline, `${last} waiting, not ${n}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  await new Promise((res) => setTimeout(res, 1_200));
  assert.equal((await health(relay)).pending, n);
}

async function health(relay: string): Promise<any> {
  return (await fetch(`${relay}/health`)).json();
}

relayTest('the relay refuses bad requests with the exact status and stores nothing for them', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--max-pending', '3'] });
  const { id } = await registerInstance(r.url);
  const d = () => standard('whsec_' + Buffer.alloc(24, 1).toString('base64'), { type: 'save', ref: 'refs/heads/main' });

  assert.equal((await post(r.url, `/hooks/nosuchinstance/app`, d())).status, 404);
  assert.equal((await post(r.url, `/hooks/${id}/bad$name`, d())).status, 400);
  assert.equal((await post(r.url, `/hooks/${id}/..`, d())).status, 400);
  assert.equal((await post(r.url, `/hooks/${id}/app`, d(), { method: 'GET' })).status, 405);
  assert.equal((await post(r.url, `/hooks/${id}/app`, standard('whsec_x', { pad: 'x'.repeat(1024 * 1024) }))).status, 413);
  assert.equal((await post(r.url, '/elsewhere', d())).status, 404);
  // Registration: malformed, taken by another secret, the same again (harmless).
  const reg = (body: string) => fetch(`${r!.url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal((await reg('{"id": "x"')).status, 400);
  assert.equal((await reg(JSON.stringify({ id: 'UPPER-case!', secretHash: 'a'.repeat(64) }))).status, 400);
  assert.equal((await reg(JSON.stringify({ id, secretHash: 'b'.repeat(64) }))).status, 409);
  assert.equal((await health(r.url)).pending, 0);

  // Full: three wait; a fourth is taken, and the oldest makes room for it.
  for (let i = 0; i < 4; i++) assert.equal((await post(r.url, `/hooks/${id}/app`, d())).status, 202);
  assert.equal((await health(r.url)).pending, 3);
  assert.equal(r.events().filter((e) => e.event === 'dropped').length, 1);
  assert.equal((await r.stop()).code, 0);
});

relayTest('floods get 429 per instance and per source address, with Retry-After', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--rate', '2', '--address-rate', '4'] });
  const a = await registerInstance(r.url);
  const b = await registerInstance(r.url);
  const d = () => standard('whsec_' + Buffer.alloc(24, 1).toString('base64'), { type: 'save' });
  // Instance a: a burst of 10 passes, then 429.
  const toA = [];
  for (let i = 0; i < 14; i++) toA.push(await post(r.url, `/hooks/${a.id}/app`, d()));
  assert.ok(toA.slice(0, 10).every((x) => x.status === 202), toA.map((x) => x.status).join(','));
  assert.ok(toA.slice(10).every((x) => x.status === 429));
  assert.match(toA[13].body.message, /for this instance/);
  // The address has used 14 of its 16; instance b is fresh, but the address runs out.
  const toB = [];
  for (let i = 0; i < 6; i++) toB.push(await post(r.url, `/hooks/${b.id}/app`, d()));
  assert.ok(toB.some((x) => x.status === 429 && /from this address/.test(x.body.message)), toB.map((x) => x.status).join(','));
  assert.equal((await health(r.url)).pending, 10 + toB.filter((x) => x.status === 202).length);
  await r.stop();
});

test('behind HAProxy, a sender cannot choose its address with its own X-Forwarded-For, nor be a fresh one per IPv6 address', async (t) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await relayBackends[0].relay(dir)), args: ['--trust-proxy', '--rate', '100000', '--address-rate', '1'] });
  const lb = await startHaproxy(dir, [new URL(r.url).host]);
  t.after(() => lb.stop());
  const a = await registerInstance(r.url);
  const d = (xff: string) => {
    const x = standard('whsec_' + Buffer.alloc(24, 1).toString('base64'), { type: 'save' });
    return { ...x, headers: { ...x.headers, 'x-forwarded-for': xff } };
  };
  // One client (HAProxy appends 127.0.0.1) writing a new address each time: one burst of 10.
  const spoofed = [];
  for (let i = 0; i < 20; i++) spoofed.push((await post(lb.url, `/hooks/${a.id}/app`, d(`203.0.113.${i + 1}`))).status);
  assert.ok(spoofed.includes(429), spoofed.join(','));
  // Straight to the relay, as if from behind the proxy: one IPv6 /64 is one sender.
  const v6 = [];
  for (let i = 0; i < 20; i++) v6.push((await post(r.url, `/hooks/${a.id}/app`, d(`2001:db8:7:7::${i + 1}`))).status);
  assert.ok(v6.includes(429), v6.join(','));
  // Other IPv4 addresses are other senders (an IPv4-mapped one too).
  for (const ip of ['198.51.100.1', '::ffff:198.51.100.2', '2001:db8:7:8::1']) assert.equal((await post(r.url, `/hooks/${a.id}/app`, d(ip))).status, 202, ip);
  assert.ok(r.events().some((e) => e.event === 'refused' && e.status === 429 && e.from === '2001:db8:7:7::20'));
});

test('one sender cannot hold many bodies in the relay\'s memory at once by sending them slowly; what it finishes is stored', async (t) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await relayBackends[0].relay(dir)), args: ['--rate', '1000'] });
  const a = await registerInstance(r.url);
  const d = () => standard('whsec_' + Buffer.alloc(24, 1).toString('base64'), { pad: 'x'.repeat(1_000_000) });
  // 16 bodies of 1 MB begun and held back; the relay reads each into memory until it is whole.
  const slow = Array.from({ length: 16 }, () => {
    const x = d();
    const req = http.request(`${r!.url}/hooks/${a.id}/app`, { method: 'POST', headers: { ...x.headers, 'content-length': String(x.body.length) }, agent: false });
    const answer = new Promise<number>((resolve, reject) => (req.on('response', (res) => (res.resume(), resolve(res.statusCode!))), req.on('error', reject)));
    req.write(x.body.subarray(0, 1000));
    return { finish: () => req.end(x.body.subarray(1000)), answer };
  });
  const more = [];
  for (let i = 0; i < 3; i++) more.push(await post(r.url, `/hooks/${a.id}/app`, d()));
  assert.ok(more.some((x) => x.status === 429 && /at once/.test(x.body.message)), more.map((x) => x.status).join(','));
  // Small ones still arrive meanwhile.
  assert.equal((await post(r.url, `/hooks/${a.id}/app`, standard('whsec_' + Buffer.alloc(24, 1).toString('base64'), { type: 'save' }))).status, 202);
  for (const s of slow) s.finish();
  assert.deepEqual(await Promise.all(slow.map((s) => s.answer)), Array(16).fill(202));
  assert.equal((await post(r.url, `/hooks/${a.id}/app`, d())).status, 202);
  assert.equal((await health(r.url)).pending, 18 + more.filter((x) => x.status === 202).length);
});

relayTest('only the instance with its secret gets its deliveries; resends until acked; the newest connection wins', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)) });
  const a = await registerInstance(r.url);
  const b = await registerInstance(r.url);

  await assert.rejects(connect(r.url, a.id, 'wrong-secret'), (e: any) => e.status === 401);
  await assert.rejects(connect(r.url, a.id, b.secret), (e: any) => e.status === 401);
  await assert.rejects(connect(r.url, 'unknown0000', a.secret), (e: any) => e.status === 401);

  const other = await connect(r.url, b.id, b.secret);
  t.after(() => other.ws.terminate());
  const a1 = await connect(r.url, a.id, a.secret);
  t.after(() => a1.ws.terminate());
  // Bytes and signature headers arrive exactly as sent (JSON re-serialized would differ).
  const raw = '{ "type":"save",  "ref":"refs/heads/main", "note":"sp\\u00e9cial" }';
  const sent = [standard('whsec_' + Buffer.alloc(24, 2).toString('base64'), raw), standard('whsec_x', '{"type":"save"}'), standard('whsec_x', '{"type":"merge"}')];
  const ids: string[] = [];
  for (const s of sent) {
    const res = await post(r.url, `/hooks/${a.id}/shop`, s);
    assert.equal(res.status, 202);
    ids.push(res.body.id);
  }
  const got = await a1.next(3);
  assert.deepEqual(got.map((f) => f.id), ids);
  assert.equal(Buffer.from(got[0].body, 'base64').toString(), raw);
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type']) assert.equal(got[0].headers[h], sent[0].headers[h]);
  assert.equal(got[0].app, 'shop');

  // Malformed frames and acks for unknown (or another instance's) ids change nothing.
  a1.ws.send('not json');
  a1.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  a1.ws.send(JSON.stringify({ type: 'ack', id: 'rly_unknown' }));
  a1.ws.send(JSON.stringify({ type: 'ack' }));
  a1.ws.send(JSON.stringify({ type: 'ack', id: ids[0] })); // the only real ack
  // A cluster removes acked webhooks within about two seconds (docs/relay.md).
  await pendingBecomes(r.url, 2);

  // A second connection for the same instance replaces the first, and gets what is unacked.
  const a2 = await connect(r.url, a.id, a.secret);
  t.after(() => a2.ws.terminate());
  assert.equal(await a1.closed, 4001);
  const again = await a2.next(2);
  assert.deepEqual(again.map((f) => f.id), ids.slice(1));
  // The dropped link (no ack) loses nothing: a3 gets them again too.
  a2.ws.terminate();
  const a3 = await connect(r.url, a.id, a.secret);
  t.after(() => a3.ws.terminate());
  const third = await a3.next(2);
  assert.deepEqual(third.map((f) => f.id), ids.slice(1));
  for (const f of third) a3.ws.send(JSON.stringify({ type: 'ack', id: f.id, status: 202 }));
  await pendingBecomes(r.url, 0);
  // Instance b never saw any of it.
  assert.equal(other.frames.filter((f) => f.type === 'delivery').length, 0);
  const acked = r.events().filter((e) => e.event === 'acked').map((e) => e.id);
  assert.deepEqual(acked, ids); // in the order they were acked: the first by a1, the others by a3
  assert.ok(r.events().some((e) => e.event === 'unknown-ack'));
  assert.ok(!r.out().includes(a.secret) && !r.out().includes(b.secret));
  await r.stop();
});

relayTest('kill -9 of the relay mid-stream: every webhook answered 202 is delivered after the restart', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--rate', '100000', '--address-rate', '100000'] });
  const port = Number(new URL(r.url).port);
  const a = await registerInstance(r.url);
  const accepted = new Set<string>();
  let stop = false;
  const senders = Array.from({ length: 8 }, async () => {
    while (!stop) {
      try {
        const res = await post(r!.url, `/hooks/${a.id}/app`, standard('whsec_x', { type: 'save' }));
        if (res.status === 202) accepted.add(res.body.id);
      } catch {
        return; // the relay is gone
      }
    }
  });
  while (accepted.size < 150) await new Promise((res) => setTimeout(res, 5));
  await r.kill9();
  stop = true;
  await Promise.all(senders);

  r = await startRelay(dir, { ...(await backend.relay(dir)), port });
  const inst = await connect(r.url, a.id, a.secret);
  t.after(() => inst.ws.terminate());
  const delivered = new Set<string>();
  const deadline = Date.now() + 15_000;
  while ([...accepted].some((id) => !delivered.has(id))) {
    if (Date.now() > deadline) assert.fail(`${[...accepted].filter((id) => !delivered.has(id)).length} accepted webhooks were lost`);
    for (const f of inst.frames.splice(0)) {
      if (f.type !== 'delivery') continue;
      delivered.add(f.id);
      inst.ws.send(JSON.stringify({ type: 'ack', id: f.id }));
    }
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(accepted.size >= 150);
  await r.stop();
});

relayTest('a client that resets while its upgrade is refused does not take the relay down', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)) });
  const { id } = await registerInstance(r.url);
  const net = await import('node:net');
  const u = new URL(r.url);
  for (let i = 0; i < 20; i++) {
    const sock = net.connect(Number(u.port), u.hostname);
    await new Promise((res) => sock.once('connect', res));
    sock.write(`GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, i).toString('base64')}\r\nx-toes-instance: ${id}\r\nauthorization: Bearer wrong\r\n\r\n`);
    sock.resetAndDestroy();
  }
  await new Promise((res) => setTimeout(res, 300));
  assert.equal((await fetch(`${r.url}/health`)).status, 200);
  assert.equal((await r.stop()).code, 0);
});
