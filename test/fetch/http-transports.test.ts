// The fetchers' HTTP client has two transports: Bun's fetch (on Bun, no proxy variable set)
// and node:http (Node, or Bun with a proxy variable). The same requests are run on each
// (test/fixtures/http-scenarios.ts, one process per runtime) and must come out the same:
// bytes as sent, our headers, the token only where it was given, the same errors and
// time-outs, one connection for requests in a row, a hang-up when the reader stops.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { test, type TestContext } from 'node:test';
import { binDir, projectRoot } from '../fixtures/cli.js';
import { serve } from '../fixtures/serve.js';
import { boundsBodies } from '../../src/fetch/direct-fetch.js';

// Port 9 (discard): nothing listens there on loopback.
const CLOSED = 'http://127.0.0.1:9';
const GZIPPED = zlib.gzipSync(Buffer.from('bytes a server sent gzip-encoded\n'.repeat(100)));

async function servers(t: TestContext): Promise<{ base: string; other: string }> {
  const other = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
  });
  let endlessClosed = false;
  const base = await serve(t, async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const h = req.headers;
    switch (req.url) {
      case '/gzip':
        // As a misconfigured server sends a .tar.gz: the bytes are for the client to keep.
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': GZIPPED.length, 'x-accept-encoding': String(h['accept-encoding'] ?? 'none') });
        return void res.end(GZIPPED);
      case '/echo': {
        const seen = { authorization: h.authorization ?? null, contentType: h['content-type'] ?? null, userAgent: h['user-agent'] ?? null, acceptEncoding: h['accept-encoding'] ?? null };
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ ...seen, body: Buffer.concat(chunks).toString(), port: req.socket.remotePort }));
      }
      case '/to-echo':
        res.writeHead(302, { location: '/echo' });
        return void res.end('moved');
      case '/to-other':
        res.writeHead(301, { location: `${other}/echo` });
        return void res.end('moved');
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        return void res.end();
      case '/stall-headers':
        return; // never answers
      case '/stall-body':
        res.writeHead(200, { 'content-length': 1000 });
        return void res.write('x'.repeat(10));
      case '/drop':
        res.writeHead(200, { 'content-length': 100_000 });
        return void res.write('x'.repeat(1000), () => setTimeout(() => res.socket?.destroy(), 20));
      case '/endless':
        res.on('close', () => (endlessClosed = true));
        res.writeHead(200);
        return void res.write('x'.repeat(1000));
      case '/endless-closed':
        return void res.end(JSON.stringify(endlessClosed));
      default:
        res.writeHead(404);
        res.end();
    }
  });
  return { base, other };
}

function runScenarios(runtime: 'node' | 'bun', env: Record<string, string>, args: string[]): Promise<any> {
  const script = path.join(projectRoot, 'dist/test/fixtures/http-scenarios.js');
  const bin = runtime === 'node' ? process.execPath : path.join(binDir, 'bun');
  return new Promise((resolve, reject) =>
    execFile(bin, [script, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${runtime}: ${err.message}\n${errOut}`)) : resolve(JSON.parse(out.trim().split('\n').at(-1)!)),
    ),
  );
}

test("Bun's fetch and node:http answer alike: bytes, headers, redirects, errors, time-outs, connections", async (t) => {
  const { base, other } = await servers(t);
  const args = [base, other, CLOSED];
  // node:http never goes through a proxy, so this one (where nothing listens) is harmless
  // to it; Bun's fetch would use it, which is why Bun falls back to node:http when it is set.
  const [onNode, onBun, onBunProxied] = await Promise.all([
    runScenarios('node', {}, args),
    runScenarios('bun', {}, args),
    runScenarios('bun', { HTTPS_PROXY: CLOSED, HTTP_PROXY: CLOSED }, args),
  ]);
  assert.equal(onNode.transport, 'node:http');
  assert.equal(onBun.transport, 'fetch');
  assert.equal(onBunProxied.transport, 'node:http');

  const expected = {
    gzip: { encoding: 'gzip', sha256: createHash('sha256').update(GZIPPED).digest('hex') },
    sent: { ok: { authorization: `Basic ${Buffer.from('x-access-token:rt_scenario_token_5e4d3c2b1a').toString('base64')}`, contentType: 'application/x-git-upload-pack-request', userAgent: 'git/2.0 (toes-rev)', acceptEncoding: null, body: '0000' } },
    redirectSameOrigin: { ok: `Basic ${Buffer.from('x-access-token:rt_scenario_token_5e4d3c2b1a').toString('base64')}` },
    redirectOtherOrigin: { ok: { authorization: null } },
    redirectManual: { ok: [302, '/echo'] },
    redirectLoop: { error: 'UNREACHABLE', message: `${new URL(base).host} redirected more than 5 times; check the source URL.`, quick: true },
    refused: { error: 'UNREACHABLE', message: `Could not reach 127.0.0.1:9: the connection was refused; check the source URL and the network, then deploy again.`, quick: true },
    stallHeaders: { error: 'UNREACHABLE', message: `Could not reach ${new URL(base).host}: it stopped answering; check the source URL and the network, then deploy again.`, quick: true },
    stallBody: { error: 'HttpTimeout body', quick: true },
    dropped: { error: 'ECONNRESET', quick: true },
    // The caller's signal ends the request with the signal's own reason (the deploy's deadline).
    aborted: { error: 'the deadline', quick: true },
    connectionReused: true,
    hungUp: true,
  };
  for (const [name, got] of Object.entries({ onNode, onBun, onBunProxied })) {
    const { transport: _, ...rest } = got;
    assert.deepEqual(rest, expected, name);
  }
});

test("Bun's fetch carries the fetchers' downloads only from a Bun that holds back unread bodies (1.4.5)", () => {
  for (const v of ['1.4.5', '1.4.12', '1.5.0', '1.10.1', '2.0.0']) assert.equal(boundsBodies(v), true, v);
  for (const v of ['1.2.0', '1.3.14', '1.4.0', '1.4.4', '1.4.0-canary.1', '', 'x.y.z']) assert.equal(boundsBodies(v), false, String(v));
});
