// One connected instance's deliveries on a relay cluster: a durable push consumer made for
// the link (filter <prefix>.hooks.<instance>.>, explicit acks, at most `window` unacked)
// pushes to <prefix>.dlv.<instance>.<consumer>, which only the node holding the link
// subscribes to. The instance's ack deletes the message from the stream (a replicated
// delete, answered once a quorum has it), then acks it to the consumer.
//
// Why a consumer per link, replicated once and kept in memory: it holds only positions;
// every unacked webhook stays in the replicated stream, so a consumer lost with its NATS
// server loses nothing, and a new one starts again at the oldest webhook still waiting:
// everything unacked is resent at once to a new link, as on a single relay. Such a
// consumer costs a few KB and ~2 ms to make (a replicated one took ~0.5 s here), which is
// what lets 10,000s of instances connect at once. A fresh name each time, because a
// consumer whose server died can be neither deleted nor made again under its old name
// until that server returns. The previous one is deleted when its link ends, and
// `inactive_threshold` removes any that nobody listens to (its node was killed). Idle
// heartbeats let the node notice a consumer that vanished with its server.
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeDelivery, type NatsLayout } from './nats-layout.js';
import type { DeliveryFeed, FeedTarget } from './store.js';

export interface FeedContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: NatsLayout;
  heartbeatMs: number;
  /** Deletes a webhook from the stream; false when it was gone already. */
  settle(seq: number): Promise<boolean>;
}

export class NatsFeed implements DeliveryFeed {
  /** Delivery id -> the subject its ack goes to, and its place in the stream. */
  private inflight = new Map<string, { reply: string; seq: number }>();
  /** Webhooks behind the last one delivered, as the server counted them. */
  private behind = 0;
  private sub?: Subscription;
  private closed = false;
  lastHeard = Date.now();
  private remaking?: Promise<void>;

  constructor(
    private ctx: FeedContext,
    readonly instance: string,
    private to: FeedTarget,
    private window: number,
  ) {}

  private consumer?: string;

  async start(): Promise<void> {
    await this.remake();
  }

  get isRemaking(): boolean {
    return this.remaking !== undefined;
  }

  /** Moves the link to a new consumer, which starts again at the oldest webhook still waiting. */
  remake(): Promise<void> {
    this.remaking ??= this.switchConsumer().finally(() => (this.remaking = undefined));
    return this.remaking;
  }

  private async switchConsumer(): Promise<void> {
    // nats-server 2.9 places a one-replica consumer on any of the stream's servers, a dead
    // one too for a while after it died; that attempt times out. Another name, another draw.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tryConsumer();
      } catch (err) {
        if (this.closed || attempt >= 4) throw err;
      }
    }
  }

  private async tryConsumer(): Promise<void> {
    const { nc, jsm, layout, heartbeatMs } = this.ctx;
    const name = `${this.instance}-${randomBytes(4).toString('hex')}`;
    const old = this.consumer;
    // Switched before the consumer exists: it starts pushing at once, and what the old one
    // sent but nobody acked is what the new one sends first.
    this.sub?.unsubscribe();
    const sub = nc.subscribe(layout.deliver(this.instance, name), { callback: (err, m) => void (err || sub !== this.sub || this.onMsg(m)) });
    this.sub = sub;
    this.consumer = name;
    this.inflight.clear();
    this.lastHeard = Date.now();
    if (old) this.drop(old);
    await jsm.consumers.add(layout.streamOf(this.instance), {
      durable_name: name,
      filter_subject: layout.hooks(this.instance),
      deliver_subject: layout.deliver(this.instance, name),
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: this.window,
      ack_wait: 30_000_000_000,
      idle_heartbeat: heartbeatMs * 1_000_000,
      inactive_threshold: Math.max(120_000, heartbeatMs * 6) * 1_000_000,
      num_replicas: 1,
      mem_storage: true,
    });
    // Closed while it was being made: nobody will listen to it.
    if (this.closed) this.drop(name);
  }

  /** Best effort: a consumer that cannot be deleted now goes once nobody listens to it. */
  private drop(name: string): void {
    this.ctx.jsm.consumers.delete(this.ctx.layout.streamOf(this.instance), name).catch(() => {});
  }

  private onMsg(m: Msg): void {
    this.lastHeard = Date.now();
    // Idle heartbeats (status 100) carry no reply subject and no data.
    if (this.closed || !m.reply || !m.reply.startsWith('$JS.ACK.')) return;
    // $JS.ACK.[domain.account.]<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>[.token]
    const t = m.reply.split('.');
    const tail = t.length > 9 && t.length % 2 === 0 ? 1 : 0;
    const seq = Number(t[t.length - 4 - tail]);
    this.behind = Number(t[t.length - 1 - tail]) || 0;
    let d;
    try {
      d = decodeDelivery(m.data);
    } catch {
      // Not ours to read: take it out of the way rather than resend it forever.
      this.ctx.nc.publish(m.reply, '+TERM');
      return;
    }
    this.inflight.set(d.id, { reply: m.reply, seq });
    this.to.send(d, this.behind + this.inflight.size);
  }

  async ack(id: string): Promise<boolean> {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.inflight.delete(id);
    const settled = await this.ctx.settle(f.seq);
    // Only a position: if this ack is lost, the consumer resends a deleted message never.
    this.ctx.nc.publish(f.reply, '+ACK');
    return settled;
  }

  nack(id: string): boolean {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.inflight.delete(id);
    this.ctx.nc.publish(f.reply, `-NAK ${JSON.stringify({ delay: 5_000_000_000 })}`);
    return true;
  }

  async pending(): Promise<number> {
    return this.behind + this.inflight.size;
  }

  wake(): void {
    // The consumer pushes new webhooks by itself.
  }

  forget(id: string): void {
    this.inflight.delete(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub?.unsubscribe();
    // What it delivered and nobody acked waits in the stream for the next link's consumer.
    if (this.consumer) this.drop(this.consumer);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
