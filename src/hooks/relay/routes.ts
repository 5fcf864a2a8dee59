// The relay's HTTP routes: hosts post webhooks to /hooks/<instance>/<app> (stored before
// the 202), instances register at POST /instances, and GET /health counts what is there.
// One Hono app (common/hono-http.ts says how it sits on node:http). Bodies are read here
// (common/http-io.ts), not through Hono's bodyLimit: each sender's bytes arriving at once
// are counted before a byte is read, and a refused upload is lingered on for up to 5 s
// (http-io.ts says why), where bodyLimit leaves it unread and @hono/node-server drains 500 ms:
// a sender still uploading after that would read a reset, not the 413 or a 429's Retry-After.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { checkAppName } from '../../releases/paths.js';
import type { EventLog } from '../common/event-log.js';
import { answer, httpApp, nodeListener, type HttpContext } from '../common/hono-http.js';
import { readBody, type Reply } from '../common/http-io.js';
import { INSTANCE_ID, KEPT_HEADERS } from '../common/relay-protocol.js';
import { signatureFormat } from '../common/signature-shape.js';
import type { LinkHub } from './hub.js';
import type { FloodLimits } from './limits.js';
import type { Room } from './room.js';
import type { SenderBudget } from './senders.js';
import { senderAddress, senderGroup } from './source.js';
import type { RelayStore } from './store.js';

export const MAX_BODY = 1024 * 1024;

/**
 * Bytes of bodies one sender may have arriving at once (each counted at its declared
 * length, or MAX_BODY without one). Each is held in memory until whole, for up to the read
 * timeout, so without this one address sending slowly on a thousand connections would hold
 * a GB; small webhooks can still arrive hundreds at a time.
 */
export const MAX_ARRIVING_BYTES = 16 * 1024 * 1024;

export interface RouteDeps {
  store: RelayStore;
  hub: LinkHub;
  log: EventLog;
  limits: FloodLimits;
  /** Each source's standing with each instance, from the instance's verdicts. */
  senders: SenderBudget;
  /** Keeps each instance's waiting webhooks within bounds, dropping the oldest. */
  room: Room;
  maxInstances: number;
  readTimeoutMs: number;
  /** Behind a reverse proxy: take the sender's address from X-Forwarded-For. */
  trustProxy: boolean;
}

export function relayRoutes(deps: RouteDeps): http.RequestListener {
  const { store, hub, log, limits } = deps;
  /** Bytes of bodies being read now, per sender (no more entries than open connections). */
  const arriving = new Map<string, number>();

  const sender = (req: http.IncomingMessage): string => senderAddress(req.headers['x-forwarded-for'], req.socket.remoteAddress, deps.trustProxy);

  async function accept(c: HttpContext, instance: string, app: string): Promise<Response> {
    const req = c.env.incoming;
    const from = sender(req);
    // Budgets, and the verdicts that feed them, count an IPv6 sender by its /64.
    const group = senderGroup(from);
    const refuse = (status: number, message: string, close?: Reply['close'], headers?: Record<string, string>) => {
      log('refused', { instance, app, status, from, reason: message });
      return answer(c, { status, close, headers }, { ok: false, message });
    };
    let known: string | undefined;
    try {
      known = INSTANCE_ID.test(instance) ? await store.lookup(instance) : undefined;
    } catch {
      // The store is out of reach for a moment (a NATS leader election): the sender may retry.
      return refuse(503, 'the relay cannot look this instance up right now; send it again in a few seconds', 'linger', { 'retry-after': '5' });
    }
    if (!known) return refuse(404, 'no such instance on this relay', 'linger');
    try {
      checkAppName(app);
    } catch {
      return refuse(400, 'the app name in the path may hold only letters, digits, ".", "_" and "-"', 'linger');
    }
    const apps = await store.apps(instance).catch(() => undefined);
    // Cheap to refuse (nothing read, nothing stored), and not held against the sender: a
    // stale hook on a forge's shared addresses would cost every other app's pushes.
    if (apps && !apps.has(app)) return refuse(404, `no app called "${app}" takes webhooks on this instance`, 'linger');
    const declared = Number(req.headers['content-length']);
    const size = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, MAX_BODY) : MAX_BODY;
    if ((arriving.get(group) ?? 0) + size > MAX_ARRIVING_BYTES) return refuse(429, `too many webhook bytes arriving at once from this address (over ${MAX_ARRIVING_BYTES / 1024 / 1024} MiB); send them one after another`, 'linger', { 'retry-after': '1' });
    if (!limits.perAddress.take(group)) return refuse(429, 'too many webhooks from this address; slow down', 'linger', { 'retry-after': String(limits.perAddress.retryAfter()) });
    // Before the instance's own rate: junk must not use up what real deliveries need.
    if (!signatureFormat(req.headers)) {
      return refuse(401, 'not a signed webhook: send webhook-id, webhook-timestamp and webhook-signature (v1,<base64>), X-Hub-Signature-256 (sha256=<hex>) or X-Gitea-/X-Forgejo-Signature (<hex>)', 'linger');
    }
    const over = deps.senders.take(instance, group);
    if (over?.banned) return refuse(429, 'the instance refused too many webhooks from this address (wrong signatures, or apps that take none); fix the sender and try again later', 'linger', { 'retry-after': String(over.retryAfter) });
    if (over) return refuse(429, 'too many webhooks for this instance; slow down', 'linger', { 'retry-after': String(over.retryAfter) });
    if (declared > MAX_BODY) return refuse(413, `the body is over ${MAX_BODY} bytes`, 'linger');
    arriving.set(group, (arriving.get(group) ?? 0) + size);
    const read = await readBody(req, MAX_BODY, deps.readTimeoutMs).finally(() => {
      const n = arriving.get(group)! - size;
      if (n > 0) arriving.set(group, n);
      else arriving.delete(group);
    });
    if ('refuse' in read) return refuse(read.refuse.status, read.refuse.message, read.refuse.close);
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
      else if (Array.isArray(v)) headers[name] = v.join(', ');
    }
    let id = `rly_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
    try {
      id = (await store.append(instance, { id, app, at: Date.now(), headers, body: read.body, src: group })) ?? id;
    } catch (err) {
      return refuse(503, `the webhook could not be stored (${(err as NodeJS.ErrnoException).code ?? 'error'}); send it again later`);
    }
    // Stored is stored: a trim that fails now (NATS electing a leader) is made by the next one.
    const dropped = await deps.room.fit(instance, app, read.body.length).catch((err: Error) => {
      log('error', { instance, reason: `keeping the queue within its limits: ${err.message}` });
      return [];
    });
    for (const w of dropped) {
      hub.forget(instance, w.id);
      log('dropped', { instance, app: w.app, id: w.id, reason: w.why });
    }
    // Only when everything waiting is one webhook per app does the newest give way itself.
    if (dropped.some((w) => w.id === id)) return refuse(507, 'this instance\'s queue on the relay is full; send it again later', 'linger');
    hub.accepted(instance, id);
    log('accepted', { instance, app, id, bytes: read.body.length, from });
    const stored = answer(c, { status: 202 }, { ok: true, id, message: 'stored; it is delivered to the instance as soon as it is connected' });
    hub.wake(instance);
    return stored;
  }

  async function register(c: HttpContext): Promise<Response> {
    const req = c.env.incoming;
    const reply = (a: Reply, value: unknown) => answer(c, a, value);
    const from = sender(req);
    if (!limits.registrations.take(senderGroup(from))) return reply({ status: 429, close: 'linger' }, { ok: false, message: 'too many registrations from this address' });
    const read = await readBody(req, 4096, deps.readTimeoutMs);
    if ('refuse' in read) return reply(read.refuse, { ok: false, message: read.refuse.message });
    let body: { id?: unknown; secretHash?: unknown };
    try {
      body = JSON.parse(read.body.toString('utf8'));
    } catch {
      return reply({ status: 400 }, { ok: false, message: 'the body must be JSON: {"id": ..., "secretHash": ...}' });
    }
    const { id, secretHash: hash } = body ?? {};
    if (typeof id !== 'string' || !INSTANCE_ID.test(id) || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
      return reply({ status: 400 }, { ok: false, message: 'id must be 8-64 lowercase letters and digits, secretHash a hex SHA-256' });
    }
    if (!(await store.lookup(id)) && (await store.totals()).instances >= deps.maxInstances) {
      log('refused', { status: 507, reason: 'instance limit reached', from });
      return reply({ status: 507 }, { ok: false, message: 'this relay takes no more instances; run your own (`toes relay`) or ask its operator' });
    }
    const outcome = await store.register(id, hash);
    log('registered', { instance: id, outcome, from });
    if (outcome === 'taken') return reply({ status: 409 }, { ok: false, message: 'that instance id is registered with another secret' });
    return reply({ status: outcome === 'created' ? 201 : 200 }, { ok: true, id });
  }

  async function health(c: HttpContext): Promise<Response> {
    if (!store.available()) return answer(c, { status: 503 }, { ok: false, connected: hub.connected, message: 'this relay node has no connection to its store (NATS)' });
    // A node is healthy while it can take webhooks. Counting them can wait on a NATS leader
    // election that a publish rides out: the counts are left out then, not the node.
    const totals = await Promise.race([store.totals().catch(() => undefined), new Promise<undefined>((r) => setTimeout(r, 300))]);
    return answer(c, { status: 200 }, { ok: true, instances: totals?.instances, connected: hub.connected, pending: totals?.waiting });
  }

  const app = httpApp();
  // One handler a path, checking the method itself (hono-http.ts says why).
  app.all('/hooks/:instance/:app', (c) => {
    if (c.req.method !== 'POST') return answer(c, { status: 405, headers: { allow: 'POST' } }, { ok: false, message: 'webhooks are delivered with POST' });
    return accept(c, c.req.param('instance'), c.req.param('app'));
  });
  app.post('/instances', register);
  // GET routes answer HEAD too.
  app.get('/health', health);
  app.notFound((c) => answer(c, { status: 404, close: 'linger' }, { ok: false, message: 'not found: webhooks go to POST /hooks/<instance>/<app>' }));
  app.onError((err, c) => {
    log('error', { reason: err.message });
    return answer(c, { status: 500 }, { ok: false, message: 'internal error' });
  });
  return nodeListener(app);
}
