// `toes serve` and `toes relay` as real processes under a flood of connections that send
// nothing (or half a header): each is closed, and /health still answers while the flood
// holds more connections than the server may keep, on a host with few file descriptors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { tmpDir } from '../../fixtures/cli.js';
import { ensureStopped, startDaemon, startRelay, type Daemon, type StartOptions } from '../../fixtures/hooks.js';

interface Flood {
  sockets: net.Socket[];
  /** Resolves once every socket was closed by the server, or rejects at the deadline. */
  allClosed(deadlineMs: number): Promise<void>;
  closedCount(): number;
  end(): void;
}

/** `n` connections to the server, each sending `first` (nothing by default) and then nothing more. */
async function flood(url: string, n: number, first = ''): Promise<Flood> {
  const { hostname, port } = new URL(url);
  let closed = 0;
  const waiters = new Set<() => void>();
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(Number(port), hostname);
          s.on('error', () => {});
          s.on('close', () => {
            closed++;
            waiters.forEach((w) => w());
          });
          s.once('connect', () => {
            if (first) s.write(first);
            resolve(s);
          });
          // Refused outright (the server at its limit) counts as connected and closed.
          s.once('close', () => resolve(s));
        }),
    ),
  );
  return {
    sockets,
    closedCount: () => closed,
    allClosed: (deadlineMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (closed < n) return;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => reject(new Error(`${n - closed} of ${n} connections still open after ${deadlineMs} ms`)), deadlineMs);
        waiters.add(check);
        check();
      }),
    end: () => sockets.forEach((s) => s.destroy()),
  };
}

async function until(ok: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function health(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/health`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
}

async function serverUnderTest(t: TestContext, which: 'serve' | 'relay', opts: StartOptions = {}): Promise<Daemon> {
  const dir = tmpDir('toes-shed-');
  const d = which === 'serve' ? await startDaemon(dir, opts) : await startRelay(dir, opts);
  t.after(() => ensureStopped(d));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return d;
}

for (const [which, runtime] of [
  ['serve', 'node'],
  ['serve', 'bun'],
  ['relay', 'node'],
] as const) {
  test(`${which} on ${runtime} closes 300 connections that send nothing, and one that never finishes its header`, async (t) => {
    const d = await serverUnderTest(t, which, { bun: runtime === 'bun', args: ['--idle-timeout', '2', '--read-timeout', '3'] });
    const silent = await flood(d.url, 300);
    const halfHeader = await flood(d.url, 1, 'GET /health HTTP/1.1\r\nHost: x\r\n');
    t.after(() => (silent.end(), halfHeader.end()));
    await silent.allClosed(30_000);
    await halfHeader.allClosed(30_000);
    assert.equal(await health(d.url), 200);
    const shed = await d.waitFor((e) => e.event === 'shed', 'a shed line in the log', 30_000);
    assert.ok(shed.idle > 0, JSON.stringify(shed));
    assert.equal((await d.stop()).code, 0);
  });
}

for (const which of ['serve', 'relay'] as const) {
  test(`${which} under ulimit -n 256 answers /health while 300 silent connections hold on`, async (t) => {
    // The default cap comes from the open-file limit; the flood is more than it.
    const d = await serverUnderTest(t, which, { fdLimit: 256, args: ['--idle-timeout', '60'] });
    const silent = await flood(d.url, 300);
    t.after(() => silent.end());
    assert.equal(await health(d.url), 200);
    assert.equal(await health(d.url), 200);
    const shed = await d.waitFor((e) => e.event === 'shed', 'a shed line in the log', 30_000);
    assert.ok(shed.evicted > 0, JSON.stringify(shed));
    silent.end();
    assert.equal((await d.stop()).code, 0);
  });
}

test('with a small --max-connections, a real request still gets in past a flood', async (t) => {
  const d = await serverUnderTest(t, 'serve', { args: ['--max-connections', '20', '--idle-timeout', '60'] });
  const silent = await flood(d.url, 100);
  t.after(() => silent.end());
  // Those past the cap made room by closing the oldest (none has timed out yet).
  await until(() => silent.closedCount() >= 80, 'the flood past the cap to be shed');
  for (let i = 0; i < 5; i++) assert.equal(await health(d.url), 200);
  silent.end();
  assert.equal((await d.stop()).code, 0);
});
