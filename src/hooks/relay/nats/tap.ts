// One relay node's view of new webhooks in one shard: a push consumer over the whole shard
// (no acks, kept in memory, one replica) that hands every new message to the node, which
// passes it to the link of its instance if that link is here and drops it otherwise.
//
// Why one consumer per node and shard, not one per link: nats-server 2.9 wakes every
// consumer of a stream for each message stored and visits every one for each message
// deleted, so a consumer per link made each webhook cost more the more instances were
// linked (measured: 2.2 ms of NATS CPU per webhook with 2,000 links), and each consumer
// held 60-80 KB on its NATS server. A tap holds only a position; the webhooks stay in the
// replicated stream until acked, and a link reads what was there before it came (and what
// did not fit its window) straight from the stream.
//
// A tap made again (its NATS server died: no heartbeat for three intervals; or a message
// was skipped) starts right after the last message it handed over, so it misses nothing. A
// fresh name each time: a consumer on a dead server can be neither deleted nor made again
// under its old name until that server returns; `inactive_threshold` removes it then.
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventLog } from '../../common/event-log.js';
import { ackReplyMeta, type NatsLayout } from './layout.js';

export interface TapContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: NatsLayout;
  heartbeatMs: number;
  /** A new webhook of the shard: `instance` from its subject, `seq` its place in the stream. */
  deliver(instance: string, seq: number, data: Uint8Array): void;
  log: EventLog;
}

export class ShardTap {
  private sub?: Subscription;
  private name?: string;
  /** Stream sequence of the last message handed over (or of the last one before the tap began). */
  private last = 0;
  /** The consumer's own count of what it sent: a jump means a message was skipped. */
  private sent = 0;
  private closed = false;
  private remaking?: Promise<void>;
  lastHeard = Date.now();

  constructor(
    private ctx: TapContext,
    readonly stream: string,
  ) {}

  /**
   * Starts after stream sequence `seq` (the last one when this node came up: what was there
   * already, links read themselves). Not awaited by the node: one that cannot be made now
   * (NATS busy or electing a leader) stays silent and is made again by the node's watchdog,
   * still from that place, so what arrives meanwhile only comes late.
   */
  startAfter(seq: number): Promise<void> {
    this.last = seq;
    return this.remake();
  }

  get isRemaking(): boolean {
    return this.remaking !== undefined;
  }

  remake(): Promise<void> {
    this.remaking ??= this.retry().finally(() => (this.remaking = undefined));
    return this.remaking;
  }

  private async retry(): Promise<void> {
    // nats-server 2.9 places a one-replica consumer on any of the stream's servers, a dead
    // one too for a while after it died; that attempt times out. Another name, another draw.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.make();
      } catch (err) {
        if (this.closed || attempt >= 4) throw err;
      }
    }
  }

  private async make(): Promise<void> {
    const { nc, jsm, layout, heartbeatMs } = this.ctx;
    const name = `tap-${randomBytes(6).toString('hex')}`;
    const inbox = `${layout.prefix}.tap.${name}`;
    const old = this.name;
    this.sub?.unsubscribe();
    const sub = nc.subscribe(inbox, { callback: (err, m) => void (err || sub !== this.sub || this.onMsg(m)) });
    this.sub = sub;
    this.name = name;
    this.sent = 0;
    this.lastHeard = Date.now();
    if (old) this.drop(old);
    await jsm.consumers.add(this.stream, {
      durable_name: name,
      filter_subject: layout.shardHooks(this.stream),
      deliver_subject: inbox,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.last + 1,
      ack_policy: AckPolicy.None,
      idle_heartbeat: heartbeatMs * 1_000_000,
      inactive_threshold: Math.max(60_000, heartbeatMs * 10) * 1_000_000,
      num_replicas: 1,
      mem_storage: true,
    });
    if (this.closed) this.drop(name);
  }

  private drop(name: string): void {
    this.ctx.jsm.consumers.delete(this.stream, name).catch(() => {});
  }

  private onMsg(m: Msg): void {
    this.lastHeard = Date.now();
    // Idle heartbeats (status 100) carry no reply subject and no data.
    if (this.closed || !m.reply || !m.reply.startsWith('$JS.ACK.')) return;
    const { seq, sent } = ackReplyMeta(m.reply);
    if (sent !== this.sent + 1) {
      // Something between the consumer and here was lost: start again after the last one.
      this.ctx.log('tap-remade', { stream: this.stream, reason: `message ${sent} after ${this.sent}` });
      void this.remake().catch(() => {});
      return;
    }
    this.sent = sent;
    if (seq <= this.last) return;
    this.last = seq;
    const { instance } = this.ctx.layout.parseHook(m.subject);
    this.ctx.deliver(instance, seq, m.data);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub?.unsubscribe();
    if (this.name) this.drop(this.name);
  }
}
