// The relay's WebSocket side: one link per instance (a newer connection replaces the
// older one, here or on another relay node), authenticated with the instance secret at the
// upgrade. What a link is sent comes from the store's feed for its instance: what waits,
// in order, up to WINDOW unacked at a time; an ack settles a webhook, a nack offers it
// again a little later. An ack's verdict counts for or against the sender (senders.ts);
// an `apps` frame says which apps take webhooks. A link reads ahead only as far as its
// socket drains, so an instance that never reads costs READ_AHEAD, not its backlog.
// Heartbeats drop links that went silent, so the instance reconnects instead of waiting
// on a dead socket.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Started } from '../common/assembly.js';
import type { EventLog } from '../common/event-log.js';
import { isAppName } from '../../releases/paths.js';
import { CLOSE, INSTANCE_ID, secretHash, type AckFrame, type AppsFrame, type DeliveryFrame } from '../common/relay-protocol.js';
import type { DeliveryFeed, LinkClaim, RelayStore, StoredDelivery, VerdictNote } from './store.js';

/** Deliveries sent and not yet acked, per connection. */
const WINDOW = 128;

/**
 * Bytes a link may have queued in its socket before the feed stops sending: two of the
 * largest deliveries (1 MiB bodies, base64 in JSON), so a link that reads keeps busy.
 */
export const READ_AHEAD = 3 * 1024 * 1024;

/** Webhooks timed from their 202 to their ack at most (a few MB at most). */
const TIMED = 10_000;

/** App names an instance may list. */
const MAX_APPS = 10_000;

/**
 * The largest frame taken from an instance: its app list, which it never sends over
 * APPS_FRAME_MAX. Anyone can register an instance, so lists of 1 MiB (10,000 names of 100
 * characters) would let the default 1000 instances hold GBs of the relay's memory; this
 * bounds them to ~64 MB.
 */
const MAX_FRAME = 64 * 1024;

interface Link {
  ws: WebSocket;
  instance: string;
  /** Set once the link is claimed and its feed started. */
  feed?: DeliveryFeed;
  claim?: LinkClaim;
  /** Heard from since the last heartbeat (a pong, a ping or any frame). */
  alive: boolean;
  /** The instance pinged the relay since the last heartbeat: the relay's own ping would only repeat it. */
  pinged: boolean;
  /** The relay pinged the link at the last heartbeat: silence since then means it is dead. */
  asked: boolean;
  /** The sender of each delivery in flight, for its verdict. */
  sources: Map<string, string>;
  /** Deliveries written to the socket, for the log when it closes. */
  sent: number;
  /**
   * The pending count the instance holds now, from the last frame written (a delivery's
   * count less itself, as the client reads it): "none left" is sent after an ack only when
   * it would change that. In steady traffic the delivery already said so, and a frame per
   * webhook for nothing was a write and a frame on both sides.
   */
  told: number;
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
  // No compression and small buffers: an idle link should cost a few KB (10,000s per node).
  // Frames from an instance are acks and its app list (MAX_FRAME, checked as they come).
  private wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false, clientTracking: false });

  constructor(
    private store: RelayStore,
    private log: EventLog,
    /** Where the instances' verdicts on senders go (senders.ts, through every node of a cluster). */
    private judged: (v: VerdictNote) => void = () => {},
  ) {}

  get connected(): number {
    return this.links.size;
  }

  /** A webhook for the instance was stored and answered. */
  accepted(instance: string, id: string): void {
    // Timed only while the instance is connected: what waits for an offline one would
    // otherwise pile up here.
    if (!this.links.has(instance)) return;
    // Bounded: one whose ack never comes here (dropped to make room, expired, or acked on
    // another node after the link moved) must not stay for good. The oldest goes first.
    if (this.acceptedAt.size >= TIMED) this.acceptedAt.delete(this.acceptedAt.keys().next().value!);
    this.acceptedAt.set(id, performance.now());
  }

  /** Sends what waits for the instance, if it is connected. */
  wake(instance: string): void {
    this.links.get(instance)?.feed?.wake();
  }

  /** A webhook expired or was dropped: it is no longer in flight anywhere. */
  forget(instance: string, id: string): void {
    const link = this.links.get(instance);
    link?.sources.delete(id);
    link?.feed?.forget(id);
    this.acceptedAt.delete(id);
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
    const link: Link = { ws, instance, alive: true, pinged: false, asked: false, sources: new Map(), sent: 0, told: 0 };
    this.links.set(instance, link);
    if (old) this.replace(old);
    const current = () => this.links.get(instance) === link;
    ws.on('pong', () => (link.alive = true));
    ws.on('ping', () => {
      link.alive = true;
      link.pinged = true;
    });
    ws.on('message', (data, isBinary) => {
      link.alive = true;
      if (isBinary) return this.log('bad-frame', { instance, reason: 'binary' });
      this.onAck(link, data.toString()).catch((err) => this.log('error', { instance, reason: `settling a delivery: ${(err as Error).message}` }));
    });
    ws.on('close', () => {
      void link.feed?.close();
      link.claim?.release();
      if (current()) {
        this.links.delete(instance);
        this.log('disconnected', { instance, sent: link.sent });
      }
    });
    ws.on('error', () => {});
    void this.start(link, current, from).catch((err) => {
      this.log('error', { instance, reason: `starting a link: ${(err as Error).message}` });
      ws.terminate();
    });
  }

  /** Claims the instance (other relay nodes close their older link), then starts its feed. */
  private async start(link: Link, current: () => boolean, from?: string): Promise<void> {
    const { instance, ws } = link;
    const step = <T>(what: string, p: Promise<T>) => p.catch((err: Error) => Promise.reject(new Error(`${what}: ${err.message}`)));
    const claim = await step('claiming the instance', this.store.claim(instance, () => this.replace(link)));
    link.claim = claim;
    if (!current() || ws.readyState !== ws.OPEN) return claim.release();
    if (!claim.won) return this.replace(link);
    const waiting = (await step('counting what waits', this.store.counts(instance))).waiting;
    if (!current() || ws.readyState !== ws.OPEN) return;
    this.log('connected', { instance, from, pending: waiting });
    ws.send(JSON.stringify({ type: 'hello', instance, pending: waiting }));
    link.told = waiting;
    const send = (d: StoredDelivery, pending: number) => {
      const frame: DeliveryFrame = { type: 'delivery', id: d.id, app: d.app, at: d.at, headers: d.headers, body: d.body, pending };
      if (d.src !== undefined) link.sources.set(d.id, d.src);
      link.sent++;
      link.told = Math.max(0, pending - 1);
      ws.send(JSON.stringify(frame), drained);
    };
    // The feed held back for a full socket: it is woken once a write completes below the mark
    // (only then: a wake per delivery would cost a read of the store each).
    let holding = false;
    const ready = () => {
      const ok = ws.readyState === ws.OPEN && ws.bufferedAmount < READ_AHEAD;
      if (!ok) holding = true;
      return ok;
    };
    const drained = () => {
      if (!holding || ws.bufferedAmount >= READ_AHEAD) return;
      holding = false;
      link.feed?.wake();
    };
    const fail = (reason: string) => {
      this.log('error', { instance, reason });
      ws.terminate();
    };
    const feed = await step('starting its deliveries', this.store.feed(instance, { send, fail, ready }, WINDOW, waiting));
    link.feed = feed;
    // Closed while the feed started: the close handler ran before the feed was there.
    if (ws.readyState !== ws.OPEN) await feed.close();
  }

  /** A newer link took the instance: this one is closed with 4001. */
  private replace(link: Link): void {
    if (this.links.get(link.instance) === link) this.links.delete(link.instance);
    if (link.ws.readyState !== link.ws.OPEN) return;
    this.log('replaced', { instance: link.instance });
    link.ws.close(CLOSE.replaced, 'replaced by a newer connection');
  }

  private async onAck(link: Link, raw: string): Promise<void> {
    // Acks are a few hundred bytes; the largest frame an instance sends is its app list.
    if (raw.length > MAX_FRAME) return this.log('bad-frame', { instance: link.instance, reason: `over ${MAX_FRAME} bytes` });
    let msg: AckFrame;
    try {
      msg = JSON.parse(raw);
    } catch {
      return this.log('bad-frame', { instance: link.instance, reason: 'not JSON' });
    }
    if (msg && (msg as { type: string }).type === 'apps') return this.onApps(link, msg as unknown as AppsFrame);
    if (msg && (msg as { type: string }).type === 'nack' && typeof msg.id === 'string' && link.feed?.nack(msg.id)) {
      // The instance could not store it now (a full disk): the feed offers it again later.
      this.log('nacked', { instance: link.instance, id: msg.id });
      return;
    }
    if (!msg || msg.type !== 'ack' || typeof msg.id !== 'string') return this.log('bad-frame', { instance: link.instance, reason: 'not an ack' });
    const src = link.sources.get(msg.id);
    link.sources.delete(msg.id);
    if (!link.feed || !(await link.feed.ack(msg.id))) return this.log('unknown-ack', { instance: link.instance, id: msg.id.slice(0, 80) });
    const verdict = msg.verdict === 'accepted' || msg.verdict === 'refused' ? msg.verdict : undefined;
    // Old instances send no verdict: their senders' budgets stay as they are. An app that is
    // gone or turned off (404, 403) says the hook is stale, not that the sender is forging:
    // a forge's shared addresses must not lose every other app's pushes over it.
    const stale = msg.status === 403 || msg.status === 404;
    if (verdict && src !== undefined && !(verdict === 'refused' && stale)) this.judged({ instance: link.instance, src, accepted: verdict === 'accepted' });
    const t = this.acceptedAt.get(msg.id);
    this.acceptedAt.delete(msg.id);
    this.log('acked', {
      instance: link.instance,
      id: msg.id,
      status: typeof msg.status === 'number' ? msg.status : undefined,
      verdict,
      from: verdict === 'refused' ? src : undefined,
      reason: verdict === 'refused' && typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : undefined,
      ms: t === undefined ? undefined : Math.round((performance.now() - t) * 100) / 100,
    });
    if (link.told !== 0 && (await link.feed.pending()) === 0) this.tell(link, 0);
  }

  /** Writes the pending count to the instance (and remembers it said so). */
  private tell(link: Link, count: number): void {
    if (link.ws.readyState !== link.ws.OPEN) return;
    link.told = count;
    link.ws.send(JSON.stringify({ type: 'pending', count }));
  }

  private async onApps(link: Link, msg: AppsFrame): Promise<void> {
    const names = Array.isArray(msg.names) ? msg.names : undefined;
    if (!names || names.length > MAX_APPS || !names.every((n) => typeof n === 'string' && isAppName(n))) return this.log('bad-frame', { instance: link.instance, reason: 'not a list of app names' });
    await this.store.setApps(link.instance, [...new Set(names)]);
    this.log('apps', { instance: link.instance, count: names.length });
  }

  /** Takes links; undone by closing every one (the instances reconnect to the next run). */
  open(): Started<LinkHub> {
    return { value: this, undo: () => this.links.forEach((link) => link.ws.close(CLOSE.shutdown, 'relay shutting down')) };
  }

  /**
   * Pings each link every interval, but for one whose instance pinged the relay since the
   * last: instances ping on the same period, and both pings were four frames per link per
   * interval where two tell each side the other is there. A link pinged and silent for a
   * whole interval is dropped: within two intervals of going silent, three when its
   * instance had just pinged.
   */
  heartbeats(intervalMs: number): Started<void> {
    const beat = setInterval(() => {
      for (const link of this.links.values()) {
        if (!link.alive && link.asked) {
          this.log('dead-link', { instance: link.instance });
          link.ws.terminate();
          continue;
        }
        link.asked = !link.pinged;
        link.alive = false;
        link.pinged = false;
        if (link.asked) link.ws.ping();
        void link.feed
          ?.pending()
          // Unchanged, it is not said again: an idle link costs its ping and nothing more.
          .then((count) => count !== link.told && this.tell(link, count))
          .catch(() => {});
      }
    }, intervalMs);
    return { value: undefined, undo: () => clearInterval(beat) };
  }
}
