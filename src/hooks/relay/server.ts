// `toes relay`: takes webhooks for instances behind NAT and passes them down each
// instance's outbound WebSocket. A webhook is stored durably (raw body, the headers that
// matter, exactly as received) before the 202; it is resent after every reconnect until
// the instance acks it, and dropped only when acked or older than the age limit.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import { eventLog, type EventLog } from '../shared/event-log.js';
import { readBody, reply, type Reply } from '../shared/http-io.js';
import { CLOSE, INSTANCE_ID, KEPT_HEADERS, secretHash, type AckFrame, type DeliveryFrame } from '../shared/relay-protocol.js';
import { RateLimiter } from './limits.js';
import { RelayStore, type InstanceQueue } from './file-store.js';

export interface RelayOptions {
  host: string;
  port: number;
  dataDir: string;
  out: NodeJS.WritableStream;
  json?: boolean;
  /** Waiting deliveries per instance before 507. */
  maxPending?: number;
  /** Bytes of waiting deliveries per instance before 507. */
  maxBytes?: number;
  /** Waiting deliveries older than this are dropped. */
  maxAgeMs?: number;
  /** Webhooks per second (sustained) per instance, and per source address. */
  instanceRate?: number;
  addressRate?: number;
  heartbeatMs?: number;
  readTimeoutMs?: number;
  /** Instances that may register (each keeps a queue file open). */
  maxInstances?: number;
  /** Behind a reverse proxy: take the sender's address from X-Forwarded-For. */
  trustProxy?: boolean;
}

export interface Relay {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
/** Deliveries sent and not yet acked, per connection. */
const WINDOW = 128;

interface Link {
  ws: WebSocket;
  instance: string;
  inflight: Set<string>;
  alive: boolean;
  pumping: boolean;
  /** More to send arrived while a pump ran: it goes round again. */
  again: boolean;
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

export async function startRelay(o: RelayOptions): Promise<Relay> {
  const log: EventLog & { flush(): void } = eventLog(o.out, !!o.json);
  const maxPending = o.maxPending ?? 10_000;
  const maxBytes = o.maxBytes ?? 256 * 1024 * 1024;
  const maxAgeMs = o.maxAgeMs ?? 7 * 24 * 3600_000;
  const heartbeatMs = o.heartbeatMs ?? 20_000;
  const readTimeoutMs = o.readTimeoutMs ?? 10_000;
  const perInstance = new RateLimiter(o.instanceRate ?? 50, Math.max(10, (o.instanceRate ?? 50) * 4));
  const perAddress = new RateLimiter(o.addressRate ?? 100, Math.max(10, (o.addressRate ?? 100) * 4));
  const registrations = new RateLimiter(1, 10);

  const store = await RelayStore.open(o.dataDir);
  const links = new Map<string, Link>();
  /** When deliveries accepted by this run for a connected instance were answered, to log accept -> ack times. */
  const acceptedAt = new Map<string, number>();


  async function pump(link: Link): Promise<void> {
    if (link.pumping) {
      link.again = true;
      return;
    }
    link.pumping = true;
    try {
      do {
        link.again = false;
        await pumpOnce(link);
      } while (link.again);
    } catch (err) {
      // Cannot read a stored delivery back: drop the link; the next one starts afresh.
      log('error', { instance: link.instance, reason: `sending deliveries: ${(err as Error).message}` });
      link.ws.terminate();
    } finally {
      link.pumping = false;
    }
  }

  async function pumpOnce(link: Link): Promise<void> {
    {
      const q = store.instances.get(link.instance)!.queue;
      for (const id of q.waiting.keys()) {
        if (links.get(link.instance) !== link || link.inflight.size >= WINDOW) break;
        if (link.inflight.has(id)) continue;
        const d = await q.read(id);
        if (!d || links.get(link.instance) !== link) continue;
        link.inflight.add(id);
        const frame: DeliveryFrame = { type: 'delivery', id, app: d.app, at: d.at, headers: d.headers, body: d.body, pending: q.waiting.size };
        link.ws.send(JSON.stringify(frame));
      }
    }
  }

  function onAck(link: Link, raw: string): void {
    let msg: AckFrame;
    try {
      msg = JSON.parse(raw);
    } catch {
      return log('bad-frame', { instance: link.instance, reason: 'not JSON' });
    }
    if (msg && (msg as { type: string }).type === 'nack' && typeof msg.id === 'string' && link.inflight.delete(msg.id)) {
      // The instance could not store it now (a full disk): offer it again a little later.
      log('nacked', { instance: link.instance, id: msg.id });
      setTimeout(() => void pump(link), 5_000).unref();
      return;
    }
    if (!msg || msg.type !== 'ack' || typeof msg.id !== 'string') return log('bad-frame', { instance: link.instance, reason: 'not an ack' });
    const q = store.instances.get(link.instance)!.queue;
    link.inflight.delete(msg.id);
    if (!q.settle(msg.id, 'a')) return log('unknown-ack', { instance: link.instance, id: msg.id.slice(0, 80) });
    const t = acceptedAt.get(msg.id);
    acceptedAt.delete(msg.id);
    log('acked', { instance: link.instance, id: msg.id, status: typeof msg.status === 'number' ? msg.status : undefined, ms: t === undefined ? undefined : Math.round((performance.now() - t) * 100) / 100 });
    if (q.waiting.size === 0) link.ws.send(JSON.stringify({ type: 'pending', count: 0 }));
    void pump(link);
  }

  const sender = (req: http.IncomingMessage): string => {
    const fwd = o.trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',')[0].trim() : '';
    return fwd || req.socket.remoteAddress || '?';
  };

  async function accept(req: http.IncomingMessage, res: http.ServerResponse, instance: string, app: string): Promise<void> {
    const from = sender(req);
    const refuse = (status: number, message: string, close?: Reply['close'], headers?: Record<string, string>) => {
      log('refused', { instance, app, status, from, reason: message });
      reply(req, res, { status, close, headers }, { ok: false, message });
    };
    const inst = store.instances.get(instance);
    if (!inst) return refuse(404, 'no such instance on this relay', 'linger');
    try {
      checkAppName(app);
    } catch {
      return refuse(400, 'the app name in the path may hold only letters, digits, ".", "_" and "-"', 'linger');
    }
    if (!perAddress.take(from)) return refuse(429, 'too many webhooks from this address; slow down', 'linger', { 'retry-after': String(perAddress.retryAfter()) });
    if (!perInstance.take(instance)) return refuse(429, 'too many webhooks for this instance; slow down', 'linger', { 'retry-after': String(perInstance.retryAfter()) });
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return refuse(413, `the body is over ${MAX_BODY} bytes`, 'linger');
    const q = inst.queue;
    if (q.waiting.size >= maxPending || q.bytes >= maxBytes) {
      return refuse(507, `this instance has ${q.waiting.size} webhooks waiting (the limit is ${maxPending}); they are delivered when it comes online`, 'linger');
    }
    const read = await readBody(req, MAX_BODY, readTimeoutMs);
    if ('refuse' in read) return refuse(read.refuse.status, read.refuse.message, read.refuse.close);
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
      else if (Array.isArray(v)) headers[name] = v.join(', ');
    }
    const id = `rly_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
    try {
      await q.add({ id, app, at: Date.now(), headers, body: read.body.toString('base64') });
    } catch (err) {
      return refuse(503, `the webhook could not be stored (${(err as NodeJS.ErrnoException).code ?? 'error'}); send it again later`);
    }
    // Timed only while the instance is connected: what waits for an offline one would
    // otherwise pile up here.
    if (links.has(instance)) acceptedAt.set(id, performance.now());
    log('accepted', { instance, app, id, bytes: read.body.length, from });
    reply(req, res, { status: 202 }, { ok: true, id, message: 'stored; it is delivered to the instance as soon as it is connected' });
    const link = links.get(instance);
    if (link) void pump(link);
  }

  async function register(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const from = sender(req);
    if (!registrations.take(from)) return reply(req, res, { status: 429, close: 'linger' }, { ok: false, message: 'too many registrations from this address' });
    const read = await readBody(req, 4096, readTimeoutMs);
    if ('refuse' in read) return reply(req, res, read.refuse, { ok: false, message: read.refuse.message });
    let body: { id?: unknown; secretHash?: unknown };
    try {
      body = JSON.parse(read.body.toString('utf8'));
    } catch {
      return reply(req, res, { status: 400 }, { ok: false, message: 'the body must be JSON: {"id": ..., "secretHash": ...}' });
    }
    const { id, secretHash: hash } = body ?? {};
    if (typeof id !== 'string' || !INSTANCE_ID.test(id) || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
      return reply(req, res, { status: 400 }, { ok: false, message: 'id must be 8-64 lowercase letters and digits, secretHash a hex SHA-256' });
    }
    if (!store.instances.has(id) && store.instances.size >= (o.maxInstances ?? 1000)) {
      log('refused', { status: 507, reason: 'instance limit reached', from });
      return reply(req, res, { status: 507 }, { ok: false, message: 'this relay takes no more instances; run your own (`toes relay`) or ask its operator' });
    }
    const outcome = await store.register(id, hash);
    log('registered', { instance: id, outcome, from });
    if (outcome === 'taken') return reply(req, res, { status: 409 }, { ok: false, message: 'that instance id is registered with another secret' });
    reply(req, res, { status: outcome === 'created' ? 201 : 200 }, { ok: true, id });
  }

  const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs * 2 }, (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const parts = url.split('/');
    if (parts[1] === 'hooks' && parts.length === 4) {
      if (req.method !== 'POST') return reply(req, res, { status: 405, headers: { allow: 'POST' } }, { ok: false, message: 'webhooks are delivered with POST' });
      return void accept(req, res, parts[2], parts[3]).catch((err) => {
        log('error', { reason: (err as Error).message });
        if (!res.headersSent) reply(req, res, { status: 500 }, { ok: false, message: 'internal error' });
      });
    }
    if (url === '/instances' && req.method === 'POST') return void register(req, res).catch(() => res.headersSent || reply(req, res, { status: 500 }, { ok: false, message: 'internal error' }));
    if (url === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return reply(req, res, { status: 200 }, { ok: true, instances: store.instances.size, connected: links.size, pending: store.pending() });
    }
    reply(req, res, { status: 404, close: 'linger' }, { ok: false, message: 'not found: webhooks go to POST /hooks/<instance>/<app>' });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    // A client that resets while being refused must not take the relay down.
    socket.on('error', () => socket.destroy());
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/connect') return refuseUpgrade(socket, 404, 'instances connect at /connect');
    const id = String(req.headers['x-toes-instance'] ?? '');
    const auth = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
    const inst = store.instances.get(id);
    // One answer for an unknown instance and a wrong secret: no probing for ids.
    if (!inst || !auth || !sameHash(secretHash(auth[1]), inst.secretHash)) {
      log('refused-link', { instance: INSTANCE_ID.test(id) ? id : undefined, from: req.socket.remoteAddress, reason: !inst ? 'unknown instance' : 'wrong secret' });
      return refuseUpgrade(socket, 401, 'unknown instance or wrong secret');
    }
    wss.handleUpgrade(req, socket, head, (ws) => connected(ws, id, req.socket.remoteAddress));
  });

  function connected(ws: WebSocket, instance: string, from?: string): void {
    const old = links.get(instance);
    const link: Link = { ws, instance, inflight: new Set(), alive: true, pumping: false, again: false };
    links.set(instance, link);
    if (old) {
      log('replaced', { instance });
      old.ws.close(CLOSE.replaced, 'replaced by a newer connection');
    }
    const q: InstanceQueue = store.instances.get(instance)!.queue;
    log('connected', { instance, from, pending: q.waiting.size });
    ws.on('pong', () => (link.alive = true));
    ws.on('message', (data, isBinary) => {
      link.alive = true;
      if (isBinary) return log('bad-frame', { instance, reason: 'binary' });
      onAck(link, data.toString());
    });
    ws.on('close', () => {
      if (links.get(instance) === link) {
        links.delete(instance);
        log('disconnected', { instance, unacked: link.inflight.size });
      }
    });
    ws.on('error', () => {});
    ws.send(JSON.stringify({ type: 'hello', instance, pending: q.waiting.size }));
    void pump(link);
  }

  // Heartbeats: a link that answered nothing for a whole interval is dead; drop it so
  // the instance reconnects rather than waiting on a silent socket.
  const beat = setInterval(() => {
    for (const link of links.values()) {
      if (!link.alive) {
        log('dead-link', { instance: link.instance });
        link.ws.terminate();
        continue;
      }
      link.alive = false;
      link.ws.ping();
      link.ws.send(JSON.stringify({ type: 'pending', count: store.instances.get(link.instance)!.queue.waiting.size }));
    }
  }, heartbeatMs);
  const sweep = setInterval(() => {
    const cutoff = Date.now() - maxAgeMs;
    for (const [instance, { queue }] of store.instances) {
      for (const [id, w] of queue.waiting) {
        if (w.at >= cutoff) break; // arrival order: the rest are newer
        queue.settle(id, 'x');
        links.get(instance)?.inflight.delete(id);
        log('expired', { instance, id, app: w.app });
      }
    }
  }, Math.min(60_000, Math.max(1_000, maxAgeMs / 10)));

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new RevError('PORT_IN_USE', `Port ${o.port} on ${o.host} is already in use; pick another with --port.`) : err),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  // Later server errors (out of file descriptors, say) are logged, not fatal.
  server.on('error', (err) => log('error', { reason: err.message }));
  const { port } = server.address() as AddressInfo;
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
  log('listening', { url, data: o.dataDir, instances: store.instances.size, pending: store.pending(), pid: process.pid });

  return {
    url,
    port,
    async stop() {
      clearInterval(beat);
      clearInterval(sweep);
      log('stopping');
      for (const link of links.values()) link.ws.close(CLOSE.shutdown, 'relay shutting down');
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), readTimeoutMs).unref();
      await closed;
      await store.close();
      log('stopped');
      log.flush();
    },
  };
}
