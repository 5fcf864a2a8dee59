// `toes relay`: takes webhooks for instances behind NAT and passes them down each
// instance's outbound WebSocket. A webhook is stored durably (raw body, the headers that
// matter, exactly as received) before the 202; it is resent after every reconnect until
// the instance acks it, and dropped only when acked or older than the age limit. The
// store is one directory (`--data`, one process) or NATS JetStream (`--nats`, any number
// of stateless relay nodes behind a load balancer).
// Starting is the list of parts in `startRelay`; stopping undoes them in reverse.
import http from 'node:http';
import os from 'node:os';
import { Assembly, type Started } from '../common/assembly.js';
import { connectionLimits, hardenServer, type ConnectionLimits } from '../common/connection-limits.js';
import { eventLog, type EventLog } from '../common/event-log.js';
import { closeServer, listen } from '../common/listen.js';
import type { RelayBackend } from './backend.js';
import { openFileBackend } from './file/backend.js';
import type { NatsOptions } from './nats/connect.js';
import { LinkHub } from './hub.js';
import { floodLimits } from './limits.js';
import { Room } from './room.js';
import { relayRoutes } from './routes.js';
import { SenderBudget } from './senders.js';
import type { VerdictNote } from './store.js';

/**
 * Bytes waiting per instance by default: a few days of ordinary pushes (GitHub's are
 * 5-30 KB), and 1,000 registered instances at the cap would still fit a small VM's disk.
 */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface RelayOptions {
  host: string;
  port: number;
  /** Where webhooks and registrations are kept: a directory, or a NATS JetStream cluster. */
  store: { dataDir: string } | { nats: NatsOptions };
  out: NodeJS.WritableStream;
  json?: boolean;
  /** Waiting deliveries (and their bytes) per instance, and per app of one; past them the oldest are dropped. */
  maxPending?: number;
  maxBytes?: number;
  maxPerApp?: number;
  /** Waiting deliveries older than this are dropped. */
  maxAgeMs?: number;
  /** Webhooks per second (sustained) per instance, and per source address. */
  instanceRate?: number;
  addressRate?: number;
  heartbeatMs?: number;
  readTimeoutMs?: number;
  /** Open connections at most, instances' links included (default 4096, less under a low open-file limit). */
  maxConnections?: number;
  /** A connection that sends no request for this long is closed (default 5 s). */
  idleTimeoutMs?: number;
  /** Instances that may register. */
  maxInstances?: number;
  /** Behind a reverse proxy: take the sender's address from X-Forwarded-For. */
  trustProxy?: boolean;
}

export interface Relay {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRelay(o: RelayOptions): Promise<Relay> {
  const log = eventLog(o.out, !!o.json);
  const readTimeoutMs = o.readTimeoutMs ?? 10_000;
  const parts = new Assembly();
  const maxAgeMs = o.maxAgeMs ?? 7 * 24 * 3600_000;
  const heartbeatMs = o.heartbeatMs ?? 20_000;
  try {
    const backend = await parts.add('store', () => openBackend(o.store, { log, maxAgeMs }));
    const { store } = backend;
    const limits = floodLimits(o.instanceRate, o.addressRate);
    const senders = new SenderBudget(limits.perInstance, Math.max(1, (o.instanceRate ?? 50) / 50));
    const judge = (v: VerdictNote) => senders.verdict(v.instance, v.src, v.accepted);
    backend.verdicts.hear(judge);
    const hub = new LinkHub(store, log, backend.verdicts.tell);
    const routes = relayRoutes({
      store,
      hub,
      log,
      limits,
      senders,
      room: new Room(store, { maxPending: o.maxPending ?? 10_000, maxBytes: o.maxBytes ?? DEFAULT_MAX_BYTES, maxPerApp: o.maxPerApp ?? 1_000 }, backend.shares),
      maxInstances: o.maxInstances ?? 1000,
      readTimeoutMs,
      trustProxy: !!o.trustProxy,
    });
    const bound = await parts.add('listen', () => serveHttp(o.host, o.port, connectionLimits(o, readTimeoutMs, 4096), routes, hub, log));
    await parts.add('links', () => hub.open());
    await parts.add('heartbeats', () => hub.heartbeats(heartbeatMs));
    await parts.add('upkeep', () => backend.upkeep((instance, id) => hub.forget(instance, id), log));
    const { instances, waiting } = await store.totals();
    log('listening', { url: bound.url, ...backend.where, instances, pending: waiting, pid: process.pid });

    return {
      ...bound,
      async stop() {
        log('stopping');
        await parts.undo();
        log('stopped');
        log.flush();
      },
    };
  } catch (err) {
    await parts.undo();
    throw err;
  }
}

async function openBackend(where: RelayOptions['store'], o: { log: EventLog; maxAgeMs: number }): Promise<Started<RelayBackend>> {
  let backend: RelayBackend;
  if ('dataDir' in where) backend = await openFileBackend(where.dataDir, o.maxAgeMs);
  else {
    // Loaded only for a cluster node: the single-process relay never pays for the client.
    const { openNatsBackend } = await import('./nats/backend.js');
    backend = await openNatsBackend({ ...where.nats, node: `${os.hostname()}:${process.pid}`, ...o });
  }
  return { value: backend, undo: () => backend.store.close() };
}

/** The routes and the WebSocket upgrade on one server; undone once the links are closed. */
async function serveHttp(host: string, port: number, limits: ConnectionLimits, routes: http.RequestListener, hub: LinkHub, log: EventLog): Promise<Started<{ url: string; port: number }>> {
  const readTimeoutMs = limits.headersMs;
  const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs * 2 }, routes);
  const guard = hardenServer(server, limits, log);
  server.on('upgrade', (req, socket, head) => {
    guard.upgraded(socket);
    void hub.upgrade(req, socket, head).catch(() => socket.destroy());
  });
  const bound = await listen(server, host, port);
  // Later server errors (out of file descriptors, say) are logged, not fatal.
  server.on('error', (err) => log('error', { reason: err.message }));
  return { value: bound, undo: () => closeServer(server, readTimeoutMs) };
}
