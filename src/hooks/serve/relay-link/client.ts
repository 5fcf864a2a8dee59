// The instance's end of the relay link, run by `toes serve`: one outbound WebSocket,
// heartbeats so a dead link is noticed within two intervals, reconnects with exponential
// backoff and jitter. Each delivery goes to the same receiver code as a direct webhook
// (signature checked here, with the app's secret) and is acked only once it is durably
// queued, or refused for good, with the verdict (the relay budgets each sender by it); a
// delivery this server could not queue is not acked, so the relay sends it again. On every
// link, and whenever it changes, the relay is told which apps take webhooks.
import WebSocket from 'ws';
import { writeJsonDurable } from '../../../releases/durable.js';
import { isAppName } from '../../../releases/paths.js';
import type { EventLog } from '../../common/event-log.js';
import type { Answer, Arrival } from '../receiver.js';
import { register, type Instance } from './instance.js';
import type { LinkState } from './link-state.js';
import { APPS_FRAME_MAX, type AckFrame, type AppsFrame, type DeliveryFrame, type HelloFrame, type PendingFrame } from '../../common/relay-protocol.js';

/**
 * How often the app list is read again and sent if it changed: the settings watcher that
 * tells it sooner can miss a change (a file replaced twice in quick succession), and a
 * relay with a stale list answers 404 to an enabled app's pushes, which no forge retries.
 */
const APPS_RESYNC_MS = 5_000;

/** The longest a relay keeps a webhook (its default --max-age). */
const MAX_HOLD_MS = 7 * 24 * 3600_000;

export interface RelayClientOptions {
  instance: Instance;
  log: EventLog;
  handle(d: Arrival): Promise<Answer>;
  /** The apps that take webhooks here, for the relay (it answers 404 to any other name). */
  apps?(): Promise<string[]>;
  stateFile: string;
  heartbeatMs?: number;
  /** How many webhooks the relay says are still on their way (0 once none, or the link is down). */
  backlog?(waiting: number): void;
  /** Backoff bounds for reconnects, ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class RelayClient {
  private ws?: WebSocket;
  private timer?: NodeJS.Timeout;
  private beat?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = false;
  private state: LinkState;
  private stateWrite?: NodeJS.Timeout;
  /** The app list as last sent on the current link, and whether a send is under way or asked again. */
  private appsSent?: { ws: WebSocket; frame: string };
  private announcing?: Promise<void>;
  private announceAgain = false;

  constructor(private o: RelayClientOptions) {
    this.state = { relay: o.instance.relay, instance: o.instance.id, connected: false, since: new Date().toISOString(), pending: 0 };
  }

  start(): void {
    this.connect();
  }

  private wsUrl(): string {
    return `${this.o.instance.relay.replace(/^http/, 'ws')}/connect`;
  }

  private connect(): void {
    if (this.stopped) return;
    const { instance } = this.o;
    // The secret travels only in a header of the upgrade request, never in the URL.
    const ws = new WebSocket(this.wsUrl(), { headers: { authorization: `Bearer ${instance.secret}`, 'x-toes-instance': instance.id }, handshakeTimeout: 10_000, maxPayload: 4 * 1024 * 1024 });
    this.ws = ws;
    let alive = true;
    ws.on('open', () => {
      this.setState({ connected: true, since: new Date().toISOString(), lastError: undefined });
      this.announceApps();
      clearInterval(this.resync);
      this.resync = setInterval(() => this.announceApps(), APPS_RESYNC_MS);
      this.o.log('relay-up', { relay: instance.relay, instance: instance.id });
      this.beat = setInterval(() => {
        if (!alive) {
          this.o.log('relay-dead', { relay: instance.relay, reason: `no answer to a ping within ${this.heartbeatMs() / 1000} s` });
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, this.heartbeatMs());
    });
    ws.on('pong', () => (alive = true));
    ws.on('ping', () => (alive = true));
    ws.on('message', (data) => {
      alive = true;
      this.attempt = 0; // a link that carries traffic is a good one
      this.onMessage(ws, data.toString()).catch((err) => this.o.log('relay-error', { reason: (err as Error).message }));
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      this.setState({ lastError: `the relay answered ${status}` });
      this.o.log('relay-refused', { relay: instance.relay, status });
      // 401: the relay does not know us (its data was lost, say): register again, same secret.
      if (status === 401) register(instance.relay, instance.id, instance.secret).catch(() => {});
      ws.terminate();
    });
    ws.on('error', (err) => {
      this.setState({ lastError: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    ws.on('close', (code) => {
      clearInterval(this.beat);
      if (this.ws !== ws) return;
      clearInterval(this.resync);
      this.ws = undefined;
      if (this.state.connected) this.o.log('relay-down', { relay: instance.relay, code });
      this.setState({ connected: false, since: new Date().toISOString() });
      this.reconnectLater();
    });
  }

  private heartbeatMs(): number {
    return this.o.heartbeatMs ?? 20_000;
  }

  private reconnectLater(): void {
    if (this.stopped) return;
    const min = this.o.minDelayMs ?? 500;
    const max = this.o.maxDelayMs ?? 60_000;
    const base = Math.min(max, min * 2 ** this.attempt++);
    // Full jitter: many instances cut off together do not come back together.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private async onMessage(ws: WebSocket, raw: string): Promise<void> {
    let msg: DeliveryFrame | HelloFrame | PendingFrame;
    try {
      msg = JSON.parse(raw);
    } catch {
      return this.o.log('relay-bad-frame', { reason: 'not JSON' });
    }
    if (msg.type === 'hello') return this.setState({ pending: msg.pending });
    if (msg.type === 'pending') return this.setState({ pending: Number(msg.count) || 0 });
    if (msg.type !== 'delivery' || typeof msg.id !== 'string' || typeof msg.app !== 'string' || typeof msg.body !== 'string') {
      return this.o.log('relay-bad-frame', { reason: 'unknown frame' });
    }
    this.setState({ pending: Math.max(0, (msg.pending ?? 1) - 1) });
    const reply = (frame: AckFrame | { type: 'nack'; id: string }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame)); // else: resent on the next link, dropped as a duplicate
    };
    // Nothing a relay sends can be worth more than a refusal: a bad app name is final.
    if (!isAppName(msg.app)) return reply({ type: 'ack', id: msg.id, status: 400, verdict: 'refused', reason: 'not an app name' });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    // The relay's receipt time, but never in the future and never older than a relay keeps
    // anything: a relay cannot stretch the replay window further than that.
    const now = Date.now();
    const at = Math.min(now, Math.max(Number(msg.at) || now, now - MAX_HOLD_MS));
    let answer: Answer;
    try {
      answer = await this.o.handle({ app: msg.app, headers, body: Buffer.from(msg.body, 'base64'), atS: Math.floor(at / 1000), from: 'relay' });
    } catch (err) {
      // A local problem (a settings file that does not parse, say): keep it on the relay.
      this.o.log('relay-error', { app: msg.app, reason: (err as Error).message });
      return reply({ type: 'nack', id: msg.id });
    }
    // Not stored here (a full disk): no ack, so the relay keeps it and offers it again later.
    if (answer.status >= 500) return reply({ type: 'nack', id: msg.id });
    const refused = answer.outcome === 'refused';
    reply({ type: 'ack', id: msg.id, status: answer.status, verdict: refused ? 'refused' : 'accepted', reason: refused ? answer.message.slice(0, 200) : undefined });
  }

  /** Tells the relay the apps that take webhooks, when they changed since the link last heard. */
  announceApps(): void {
    if (!this.o.apps) return;
    if (this.announcing) {
      this.announceAgain = true;
      return;
    }
    this.announcing = this.sendApps()
      .catch((err) => this.o.log('relay-error', { reason: `listing the apps for the relay: ${(err as Error).message}` }))
      .finally(() => {
        this.announcing = undefined;
        if (this.announceAgain) {
          this.announceAgain = false;
          this.announceApps();
        }
      });
  }

  private async sendApps(): Promise<void> {
    const list: AppsFrame = { type: 'apps', names: [...new Set(await this.o.apps!())].sort() };
    const frame = JSON.stringify(list);
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (this.appsSent?.ws === ws && this.appsSent.frame === frame) return;
    // An old relay closes a link on a frame over 64 KiB: past that it is not told, and
    // takes any name, as before.
    if (frame.length > APPS_FRAME_MAX) return this.o.log('relay-error', { reason: `${list.names.length} app names are too many to send the relay; it takes webhooks for any name` });
    ws.send(frame);
    this.appsSent = { ws, frame };
    this.o.log('relay-apps', { count: list.names.length });
  }

  private setState(change: Partial<LinkState>): void {
    this.state = { ...this.state, ...change };
    if (change.pending !== undefined || change.connected === false) this.o.backlog?.(this.state.connected ? this.state.pending : 0);
    // Written at most a few times a second: `toes webhook status` reads it.
    this.stateWrite ??= setTimeout(() => {
      this.stateWrite = undefined;
      void this.writeState();
    }, 200);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.beat);
    clearInterval(this.resync);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((r) => {
        ws.once('close', () => r());
        ws.close(1001, 'instance shutting down');
        setTimeout(() => {
          ws.terminate();
          r();
        }, 2_000).unref();
      });
    }
    clearTimeout(this.stateWrite);
    this.o.backlog?.(0);
    this.state = { ...this.state, connected: false, since: new Date().toISOString() };
    await this.writeState();
  }

  /** Whole or not at all: `toes webhook status` may read it at any moment. */
  private async writeState(): Promise<void> {
    await writeJsonDurable(this.o.stateFile, this.state, { compact: true, mode: 0o644 }).catch(() => {});
  }
}
