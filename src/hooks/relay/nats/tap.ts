// One relay node's view of new webhooks in one shard: an ordered consumer of the JetStream
// client over the whole shard (no acks, in memory, one replica) whose messages the node
// passes to the link of their instance if that link is here, and drops otherwise. The
// client makes the consumer again, from the message after the last one it brought, when a
// message is skipped. When heartbeats stop (its NATS server died) the client only asks the
// consumer's state, which nats-server 2.9 never answers for a one-replica consumer on a dead
// server; so then the tap makes a new one itself, from the same place: nothing is missed.
//
// Why one consumer per node and shard, not one per link: nats-server 2.9 wakes every
// consumer of a stream for each message stored and visits every one for each message
// deleted, so a consumer per link made each webhook cost more the more instances were
// linked (measured: 2.2 ms of NATS CPU per webhook with 2,000 links), and each consumer
// held 60-80 KB on its NATS server. A tap holds only a position; the webhooks stay in the
// replicated stream until acked, and a link reads what was there before it came (and what
// did not fit its window) straight from the stream.
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { EventLog } from '../../common/event-log.js';
import type { NatsLayout } from './layout.js';

export interface TapContext {
  js: JetStreamClient;
  layout: NatsLayout;
  /** A new webhook of the shard: `instance` from its subject, `seq` its place in the stream. */
  deliver(stream: string, instance: string, seq: number, data: Uint8Array): void;
  log: EventLog;
}

/** Pulls expire after this; heartbeats every half of it, and two missed make the consumer again. */
const EXPIRES_MS = 2_000;

export class ShardTap {
  private messages?: ConsumerMessages;
  /** Stream sequence of the last message handed over (or of the last one before the tap began). */
  private last = 0;
  private closed = false;

  constructor(
    private ctx: TapContext,
    readonly stream: string,
  ) {}

  /**
   * Starts after stream sequence `seq` (the last one when this node came up: what was there
   * already, links read themselves). Not awaited by the node: a consumer that cannot be made
   * now (NATS busy or electing a leader) is tried again, still from that place, so what
   * arrives meanwhile only comes late.
   */
  async startAfter(seq: number): Promise<void> {
    this.last = seq;
    for (let wait = 250; !this.closed; wait = Math.min(4_000, wait * 2)) {
      try {
        return await this.open();
      } catch (err) {
        this.ctx.log('tap-remade', { stream: this.stream, reason: (err as Error).message });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async open(): Promise<void> {
    const { js, layout } = this.ctx;
    const c = await js.consumers.get(this.stream, { filter_subjects: layout.shardHooks(this.stream), opt_start_seq: this.last + 1 });
    if (this.closed) return;
    const messages = await c.consume({ max_messages: 512, expires: EXPIRES_MS, callback: (m) => this.onMsg(m) });
    this.messages = messages;
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type === 'ordered_consumer_recreated') this.ctx.log('tap-remade', { stream: this.stream, reason: 'a message was skipped' });
        if (s.type === 'heartbeats_missed' && this.messages === messages) this.remake('no heartbeats: its NATS server is gone');
      }
    })().catch(() => {});
    // The client gave up making it again (30 failures in a row): start over from here.
    void messages.closed().then(() => {
      if (!this.closed && this.messages === messages) void this.startAfter(this.last);
    });
  }

  /**
   * A new consumer from where this one got to. Also when this node's connection moved to
   * another NATS server: the client then waits for the old consumer's state, which may never
   * come (its server may be the one that died), and sends no heartbeat notice meanwhile.
   */
  remake(reason: string): void {
    const old = this.messages;
    if (!old || this.closed) return;
    this.ctx.log('tap-remade', { stream: this.stream, reason });
    this.messages = undefined;
    old.stop();
    void this.startAfter(this.last);
  }

  private onMsg(m: JsMsg): void {
    const seq = m.info.streamSequence;
    if (this.closed || seq <= this.last) return;
    this.last = seq;
    this.ctx.deliver(this.stream, this.ctx.layout.parseHook(m.subject).instance, seq, m.data);
  }

  /** The stream sequence of the last message brought (or the last one before the tap began): what comes after, it brings. */
  reached(): number {
    return this.last;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.messages?.close().catch(() => {});
  }
}
