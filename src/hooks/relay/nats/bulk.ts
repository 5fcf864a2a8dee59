// A link's quick way through a long backlog: a consumer made for the link only while it
// catches up (filter: the instance's webhooks, explicit acks, at most `window` unacked), which
// pushes what waits as fast as the instance acks, where reading the stream one message per
// request would take a round trip each (1,000 waiting webhooks: about a second, long enough
// for the instance to deploy an app several times over instead of once). It is deleted as
// soon as it says nothing is left behind what it sent; the link then reads the stream once
// more and goes live. A fresh name each time (see tap.ts).
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ackReplyMeta, type NatsLayout } from './layout.js';

export interface BulkContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: NatsLayout;
}

/** A pushed webhook: its place in the stream, how many are behind it, and where its ack goes. */
export type BulkMsg = { seq: number; data: Uint8Array; reply: string; behind: number };

/** Silent this long (heartbeats every second): its NATS server is gone. */
export const BULK_SILENT_MS = 4_000;

export class BulkPump {
  private sub?: Subscription;
  private name = '';
  private closed = false;
  lastHeard = Date.now();

  constructor(
    private ctx: BulkContext,
    private instance: string,
    private onMsg: (m: BulkMsg) => void,
  ) {}

  async start(fromSeq: number, window: number): Promise<void> {
    const { nc, jsm, layout } = this.ctx;
    this.name = `${this.instance}-${randomBytes(4).toString('hex')}`;
    const inbox = `${layout.prefix}.bulk.${this.name}`;
    this.sub = nc.subscribe(inbox, { callback: (err, m) => void (err || this.take(m)) });
    this.lastHeard = Date.now();
    await jsm.consumers.add(layout.streamOf(this.instance), {
      durable_name: this.name,
      filter_subject: layout.hooks(this.instance),
      deliver_subject: inbox,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, fromSeq),
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: window,
      ack_wait: 60_000_000_000,
      idle_heartbeat: 1_000_000_000,
      inactive_threshold: 60_000_000_000,
      num_replicas: 1,
      mem_storage: true,
    });
    if (this.closed) this.drop();
  }

  private take(m: Msg): void {
    this.lastHeard = Date.now();
    if (this.closed || !m.reply || !m.reply.startsWith('$JS.ACK.')) return;
    const { seq, pending } = ackReplyMeta(m.reply);
    this.onMsg({ seq, data: m.data, reply: m.reply, behind: pending });
  }

  /** Lets the consumer send one more. */
  release(reply: string): void {
    if (!this.closed) this.ctx.nc.publish(reply, '+ACK');
  }

  private drop(): void {
    this.ctx.jsm.consumers.delete(this.ctx.layout.streamOf(this.instance), this.name).catch(() => {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub?.unsubscribe();
    if (this.name) this.drop();
  }
}
