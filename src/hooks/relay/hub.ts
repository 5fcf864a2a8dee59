// The relay's WebSocket side: one link per instance (a newer connection replaces the
// older one), authenticated with the instance secret at the upgrade. Each link is sent
// what waits for its instance, in order, up to WINDOW unacked at a time; an ack settles a
// webhook in the store, a nack offers it again a little later. Heartbeats drop links that
// went silent, so the instance reconnects instead of waiting on a dead socket.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Started } from '../shared/assembly.js';
import type { EventLog } from '../shared/event-log.js';
import { CLOSE, INSTANCE_ID, secretHash, type AckFrame, type DeliveryFrame } from '../shared/relay-protocol.js';
import type { RelayStore } from './store.js';

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

export class LinkHub {
  private links = new Map<string, Link>();
  /** When webhooks accepted while their instance was connected were answered, to log accept -> ack times. */
  private acceptedAt = new Map<string, number>();
  private wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  constructor(
    private store: RelayStore,
    private log: EventLog,
  ) {}

  get connected(): number {
    return this.links.size;
  }

  /** A webhook for the instance was stored and answered. */
  accepted(instance: string, id: string): void {
    // Timed only while the instance is connected: what waits for an offline one would
    // otherwise pile up here.
    if (this.links.has(instance)) this.acceptedAt.set(id, performance.now());
  }

  /** Sends what waits for the instance, if it is connected. */
  wake(instance: string): void {
    const link = this.links.get(instance);
    if (link) void this.pump(link);
  }

  /** A webhook expired: it is no longer in flight anywhere. */
  forget(instance: string, id: string): void {
    this.links.get(instance)?.inflight.delete(id);
  }

  /** `GET /connect`: one answer for an unknown instance and a wrong secret, so ids cannot be probed. */
  async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A client that resets while being refused must not take the relay down.
    socket.on('error', () => socket.destroy());
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/connect') return refuseUpgrade(socket, 404, 'instances connect at /connect');
    const id = String(req.headers['x-toes-instance'] ?? '');
    const auth = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
    const hash = INSTANCE_ID.test(id) ? await this.store.lookup(id) : undefined;
    if (!hash || !auth || !sameHash(secretHash(auth[1]), hash)) {
      this.log('refused-link', { instance: INSTANCE_ID.test(id) ? id : undefined, from: req.socket.remoteAddress, reason: !hash ? 'unknown instance' : 'wrong secret' });
      return refuseUpgrade(socket, 401, 'unknown instance or wrong secret');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connect(ws, id, req.socket.remoteAddress));
  }

  private connect(ws: WebSocket, instance: string, from?: string): void {
    const old = this.links.get(instance);
    const link: Link = { ws, instance, inflight: new Set(), alive: true, pumping: false, again: false };
    this.links.set(instance, link);
    if (old) {
      this.log('replaced', { instance });
      old.ws.close(CLOSE.replaced, 'replaced by a newer connection');
    }
    ws.on('pong', () => (link.alive = true));
    ws.on('message', (data, isBinary) => {
      link.alive = true;
      if (isBinary) return this.log('bad-frame', { instance, reason: 'binary' });
      this.onAck(link, data.toString()).catch((err) => this.log('error', { instance, reason: `settling a delivery: ${(err as Error).message}` }));
    });
    ws.on('close', () => {
      if (this.links.get(instance) === link) {
        this.links.delete(instance);
        this.log('disconnected', { instance, unacked: link.inflight.size });
      }
    });
    ws.on('error', () => {});
    void this.store.counts(instance).then(({ waiting }) => {
      this.log('connected', { instance, from, pending: waiting });
      ws.send(JSON.stringify({ type: 'hello', instance, pending: waiting }));
      void this.pump(link);
    });
  }

  private async pump(link: Link): Promise<void> {
    if (link.pumping) {
      link.again = true;
      return;
    }
    link.pumping = true;
    try {
      do {
        link.again = false;
        await this.pumpOnce(link);
      } while (link.again);
    } catch (err) {
      // Cannot read a stored delivery back: drop the link; the next one starts afresh.
      this.log('error', { instance: link.instance, reason: `sending deliveries: ${(err as Error).message}` });
      link.ws.terminate();
    } finally {
      link.pumping = false;
    }
  }

  private async pumpOnce(link: Link): Promise<void> {
    const current = () => this.links.get(link.instance) === link;
    // The oldest WINDOW hold at least as many unsent ones as the window has room for.
    const waiting = await this.store.pending(link.instance, WINDOW);
    const { waiting: count } = await this.store.counts(link.instance);
    for (const { id } of waiting) {
      if (!current() || link.inflight.size >= WINDOW) break;
      if (link.inflight.has(id)) continue;
      const d = await this.store.read(link.instance, id);
      if (!d || !current()) continue;
      link.inflight.add(id);
      const frame: DeliveryFrame = { type: 'delivery', id, app: d.app, at: d.at, headers: d.headers, body: d.body, pending: count };
      link.ws.send(JSON.stringify(frame));
    }
  }

  private async onAck(link: Link, raw: string): Promise<void> {
    let msg: AckFrame;
    try {
      msg = JSON.parse(raw);
    } catch {
      return this.log('bad-frame', { instance: link.instance, reason: 'not JSON' });
    }
    if (msg && (msg as { type: string }).type === 'nack' && typeof msg.id === 'string' && link.inflight.delete(msg.id)) {
      // The instance could not store it now (a full disk): offer it again a little later.
      this.log('nacked', { instance: link.instance, id: msg.id });
      setTimeout(() => void this.pump(link), 5_000).unref();
      return;
    }
    if (!msg || msg.type !== 'ack' || typeof msg.id !== 'string') return this.log('bad-frame', { instance: link.instance, reason: 'not an ack' });
    link.inflight.delete(msg.id);
    if (!(await this.store.settle(link.instance, msg.id, 'acked'))) return this.log('unknown-ack', { instance: link.instance, id: msg.id.slice(0, 80) });
    const t = this.acceptedAt.get(msg.id);
    this.acceptedAt.delete(msg.id);
    this.log('acked', { instance: link.instance, id: msg.id, status: typeof msg.status === 'number' ? msg.status : undefined, ms: t === undefined ? undefined : Math.round((performance.now() - t) * 100) / 100 });
    if ((await this.store.counts(link.instance)).waiting === 0) link.ws.send(JSON.stringify({ type: 'pending', count: 0 }));
    void this.pump(link);
  }

  /** Takes links; undone by closing every one (the instances reconnect to the next run). */
  open(): Started<LinkHub> {
    return { value: this, undo: () => this.links.forEach((link) => link.ws.close(CLOSE.shutdown, 'relay shutting down')) };
  }

  /** Pings every link each interval; a link that answered nothing for a whole one is dropped. */
  heartbeats(intervalMs: number): Started<void> {
    const beat = setInterval(() => {
      for (const link of this.links.values()) {
        if (!link.alive) {
          this.log('dead-link', { instance: link.instance });
          link.ws.terminate();
          continue;
        }
        link.alive = false;
        link.ws.ping();
        void this.store.counts(link.instance).then(({ waiting }) => link.ws.send(JSON.stringify({ type: 'pending', count: waiting })));
      }
    }, intervalMs);
    return { value: undefined, undo: () => clearInterval(beat) };
  }
}
