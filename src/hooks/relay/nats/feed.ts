// One connected instance's deliveries on a relay cluster. A link first reads what waits
// for its instance straight from the stream (oldest first, at most `window` unacked), then
// goes live: new webhooks come from this node's tap of the shard (tap.ts) and go out
// as they arrive. Whenever the link cannot take one at once (its window is full, its socket
// holds all it may read ahead, or it is still reading), it reads the stream again from
// where it stopped once it can, so nothing is passed over and nothing piles up here. The instance's ack deletes the webhook from the stream (a replicated
// delete, answered once a quorum has it): what is not deleted is sent again to the next
// link, on this node or any other.
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BULK_SILENT_MS, BulkPump, type BulkMsg } from './bulk.js';
import { decodeDelivery, type NatsLayout } from './layout.js';
import type { DeliveryFeed, FeedTarget } from '../store.js';

export interface FeedContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: NatsLayout;
  /** Deletes a webhook from the stream; false when it was gone already. */
  settle(seq: number): Promise<boolean>;
  /** Webhooks waiting for the instance when the link started. */
  waiting: number;
}

/** The instance said it could not store it now (a full disk): offered again after this. */
const NACK_DELAY_MS = 5_000;
/** Sent and never acked on a link that is still up: sent again after this. */
const ACK_WAIT_MS = 30_000;
/** A backlog this long goes through a consumer of its own rather than a request per webhook. */
const BULK_FROM = 16;

interface InFlight {
  seq: number;
  sentAt: number;
  /** Brought by the link's bulk consumer: acked there too, so it sends the next. */
  reply?: string;
}

export class NatsFeed implements DeliveryFeed {
  /** Delivery id -> its place in the stream. */
  private inflight = new Map<string, InFlight>();
  /** Stream sequences sent and not settled yet (in flight, or being deleted): a read passes over them. */
  private held = new Set<number>();
  /** The last stream sequence sent or passed over; reading resumes after it. It only moves on. */
  private cursor = 0;
  /** Sequences behind the cursor to send again (nacked, or never acked): read first, by sequence. */
  private redo = new Set<number>();
  /** New webhooks from the tap go straight out only while live. */
  private live = false;
  private reading?: Promise<void>;
  /** Something may wait that no read has seen yet (asked while reading, or offered while the link could not take it). */
  private unread = false;
  private behind: number;
  private timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private pump?: BulkPump;

  constructor(
    private ctx: FeedContext,
    readonly instance: string,
    private to: FeedTarget,
    private window: number,
  ) {
    this.behind = ctx.waiting;
  }

  /**
   * Starts reading without waiting for it: the instance acks as deliveries arrive, and the
   * link must hold this feed by then (a read that fails drops the link).
   */
  start(): void {
    if (this.ctx.waiting < BULK_FROM) return void this.read();
    const pump = new BulkPump(this.ctx, this.instance, (m) => this.fromPump(pump, m));
    this.pump = pump;
    this.live = false;
    // A consumer that cannot be made now (a NATS server just died): read one by one.
    pump.start(this.cursor + 1, this.window).catch(() => this.endPump(pump));
  }

  private fromPump(pump: BulkPump, m: BulkMsg): void {
    if (this.closed || pump !== this.pump) return;
    this.behind = m.behind;
    if (this.held.has(m.seq)) pump.release(m.reply);
    // The socket is full: the rest is read one by one once it drains (from the cursor, so
    // this one too).
    else if (!this.to.ready()) return this.endPump(pump);
    else this.send(m.seq, m.data, m.reply);
    // Nothing behind what it sent: the stream is read once more for what came meanwhile.
    if (m.behind === 0) this.endPump(pump);
  }

  private endPump(pump: BulkPump): void {
    if (this.pump !== pump) return;
    this.pump = undefined;
    pump.close();
    if (!this.closed) void this.read();
  }

  /** A new webhook for this instance, from the tap. */
  offer(seq: number, data: Uint8Array): void {
    if (this.closed || seq <= this.cursor) return;
    if (this.live && this.inflight.size < this.window && this.to.ready()) return this.send(seq, data);
    this.unread = true;
    this.behind++;
    this.live = false;
    if (this.inflight.size < this.window && this.to.ready()) void this.read();
  }

  private send(seq: number, data: Uint8Array, reply?: string): void {
    this.cursor = Math.max(this.cursor, seq);
    let d;
    try {
      d = decodeDelivery(data);
    } catch {
      // Not ours to read: take it out of the way rather than offer it forever.
      if (reply) this.pump?.release(reply);
      void this.ctx.settle(seq).catch(() => {});
      return;
    }
    this.inflight.set(d.id, { seq, sentAt: Date.now(), reply });
    this.held.add(seq);
    this.to.send(d, this.behind + this.inflight.size);
  }

  /**
   * Sends again what is to be redone, then reads the stream after the cursor, until the
   * window is full or nothing is left, then goes live. Asked again while reading, it reads
   * once more.
   */
  private read(): Promise<void> {
    this.unread = true;
    // The bulk consumer brings everything; the stream is read once it is done.
    if (this.pump || this.reading) return this.reading ?? Promise.resolve();
    const run = this.readOn()
      .catch((err: Error) => {
        if (!this.closed) this.to.fail(`reading its webhooks: ${err.message}`);
      })
      .finally(() => {
        this.reading = undefined;
        // Asked between the last pass and here.
        if (this.unread && !this.closed) void this.read();
      });
    this.reading = run;
    return run;
  }

  private async readOn(): Promise<void> {
    const { jsm, layout } = this.ctx;
    const stream = layout.streamOf(this.instance);
    const filter = layout.hooks(this.instance);
    this.live = false;
    while (this.unread) {
      this.unread = false;
      for (const seq of [...this.redo].sort((a, b) => a - b)) {
        if (this.inflight.size >= this.window || !this.to.ready()) return;
        this.redo.delete(seq);
        // Gone meanwhile (acked by the instance through another link, say): nothing to send.
        const m = await jsm.streams.getMessage(stream, { seq });
        if (this.closed) return;
        if (!m || this.held.has(seq)) continue;
        if (this.behind > 0) this.behind--;
        this.send(m.seq, m.data);
      }
      while (this.inflight.size < this.window && this.to.ready()) {
        const m = await jsm.streams.getMessage(stream, { seq: this.cursor + 1, next_by_subj: filter } as never);
        if (this.closed) return;
        if (!m) break;
        if (this.held.has(m.seq)) {
          this.cursor = Math.max(this.cursor, m.seq);
          continue;
        }
        if (this.behind > 0) this.behind--;
        this.send(m.seq, m.data);
      }
      // Full: the next ack reads on, or the socket draining (wake).
      if (this.inflight.size >= this.window || !this.to.ready()) return;
    }
    // Read to the end and nothing asked meanwhile: nothing waits behind what is in flight
    // (the estimate may have counted one both at the start and when the tap offered it).
    this.behind = 0;
    this.live = true;
  }

  async ack(id: string): Promise<boolean> {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.inflight.delete(id);
    if (f.reply) this.pump?.release(f.reply);
    if (!this.live && !this.closed) void this.read();
    try {
      return await this.ctx.settle(f.seq);
    } finally {
      this.held.delete(f.seq);
    }
  }

  nack(id: string): boolean {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.again(id, f, NACK_DELAY_MS);
    return true;
  }

  /** Sends again what was sent over `ACK_WAIT_MS` ago and never acked. */
  resendOverdue(now = Date.now()): void {
    for (const [id, f] of this.inflight) if (now - f.sentAt >= ACK_WAIT_MS) this.again(id, f, 0);
    // Its NATS server died: read the rest one by one.
    if (this.pump && now - this.pump.lastHeard > BULK_SILENT_MS) this.endPump(this.pump);
  }

  private again(id: string, f: InFlight, delayMs: number): void {
    this.inflight.delete(id);
    if (f.reply) this.pump?.release(f.reply);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.held.delete(f.seq);
      if (this.closed) return;
      // Not by moving the cursor back: a read under way, or the bulk consumer, would move
      // it on past this one again.
      this.redo.add(f.seq);
      this.live = false;
      this.behind++;
      void this.read();
    }, delayMs);
    this.timers.add(t);
  }

  async pending(): Promise<number> {
    return this.behind + this.inflight.size;
  }

  wake(): void {
    // The tap brings new webhooks by itself; what was held back for a full socket is read now.
    if (!this.live && !this.closed && !this.pump && this.to.ready()) void this.read();
  }

  forget(id: string): void {
    const f = this.inflight.get(id);
    if (!f) return;
    this.inflight.delete(id);
    this.held.delete(f.seq);
    if (f.reply) this.pump?.release(f.reply);
    if (!this.live && !this.closed) void this.read();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pump?.close();
    this.pump = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
