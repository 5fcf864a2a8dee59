// The Hono apps' node:http adapter, over a real server on loopback and raw sockets: what a
// forge, a health checker and a junk sender see.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { answer, httpApp, nodeListener, rawPath } from '../../../src/hooks/common/hono-http.js';
import { closeServer, listen } from '../../../src/hooks/common/listen.js';

async function serve(t: TestContext): Promise<number> {
  const app = httpApp();
  app.post('/hooks/:app{.*}', (c) => {
    if (c.req.param('app') === 'big') return answer(c, { status: 413, close: 'linger' }, { ok: false, message: 'too big' });
    return answer(c, { status: 202 }, { ok: true, app: c.req.param('app'), path: rawPath(c.env.incoming) });
  });
  app.get('/health', (c) => answer(c, { status: 200 }, { ok: true }));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.notFound((c) => answer(c, { status: 404 }, { ok: false, message: 'not found' }));
  app.onError((_err, c) => answer(c, { status: 500 }, { ok: false, message: 'internal error' }));
  const server = http.createServer(nodeListener(app));
  const { port } = await listen(server, '127.0.0.1', 0);
  t.after(() => closeServer(server, 1_000));
  return port;
}

/** Writes `head` (and `body`, if any) on a raw socket; resolves with everything read until the server closes. */
function raw(port: number, head: string, body?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(head);
      if (body) sock.write(body, () => sock.end());
    });
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
  });
}

test('GET and HEAD /health, and HTTP/1.0 without a Host header (a health checker), are answered', async (t) => {
  const port = await serve(t);
  const get = await fetch(`http://127.0.0.1:${port}/health`);
  assert.deepEqual([get.status, await get.json()], [200, { ok: true }]);
  const head = await fetch(`http://127.0.0.1:${port}/health`, { method: 'HEAD' });
  assert.deepEqual([head.status, await head.text()], [200, '']);
  const old = await raw(port, 'GET /health HTTP/1.0\r\n\r\n');
  assert.match(old, /^HTTP\/1\.1 200 /);
  assert.match(old, /\{"ok":true\}$/);
});

test('routes see the path as sent (a ".." stays in the app name), errors and unknown paths get JSON', async (t) => {
  const port = await serve(t);
  const dotted = await raw(port, 'POST /hooks/../x?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  assert.match(dotted, /^HTTP\/1\.1 202 /);
  assert.match(dotted, /"app":"\.\.\/x","path":"\/hooks\/\.\.\/x"/);
  const boom = await fetch(`http://127.0.0.1:${port}/boom`);
  assert.deepEqual([boom.status, await boom.json()], [500, { ok: false, message: 'internal error' }]);
  const none = await fetch(`http://127.0.0.1:${port}/elsewhere`, { method: 'POST', body: 'x' });
  assert.equal(none.status, 404);
});

test('a refused upload is lingered on: the sender, still sending 4 MiB, reads the 413', async (t) => {
  const port = await serve(t);
  const body = Buffer.alloc(4 * 1024 * 1024, 'a');
  const got = await raw(port, `POST /hooks/big HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  assert.match(got, /^HTTP\/1\.1 413 /);
  assert.match(got, /connection: close/i);
  assert.match(got, /"message":"too big"/);
});
