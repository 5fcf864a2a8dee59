// One connected instance's deliveries on a relay cluster, kept by one position: `next`, the
// stream sequence the link reads from. Every webhook of the instance before it was sent on
// this link; none from it on was. The link reads the stream from `next` until nothing is
// left (a request per webhook; a backlog of BULK_FROM or more through an ordered consumer of
// the JetStream client, a window at a time, as fast as the instance acks), then is live: new webhooks from this node's tap of the
// shard (tap.ts) go straight out while the link can take them. One it cannot take (window or
// socket full) ends that, and the link reads from `next` again once it can. A nack, or an
// ack overdue, puts that one webhook in `redo`, read again by its sequence before going on.
//
// An ack in a burst costs no write of its own: while BATCH_FROM or more are in flight, what
// the instance acks is removed from the stream every second, with one purge up to the link's
// ack floor (store.ts); otherwise (a purge would not pay) each ack is a delete at once. What
// a crash leaves acked and not yet removed is sent again to the next link; the instance
// drops it by id.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { isNotFound } from './connect.js';
import { decodeDelivery, type NatsLayout } from './layout.js';
import type { DeliveryFeed, FeedTarget } from '../store.js';

export interface FeedContext {
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: NatsLayout;
  /** Removes acked webhooks from the stream: may purge everything of the instance up to `floor`. */
  remove(seqs: number[], floor: number): Promise<void>;
  /** Webhooks waiting for the instance when the link started. */
  waiting: number;
}

/** The instance said it could not store it now (a full disk): offered again after this. */
const NACK_DELAY_MS = 5_000;
/** Sent and never acked on a link that is still up: sent again after this. */
const ACK_WAIT_MS = 30_000;
/**
 * A backlog this long is read through a consumer (a window per request) rather than a
 * request per webhook: measured, 1,000 waiting took 0.9-1.0 s and 0.5-0.7 s of NATS CPU one
 * by one.
 */
const BULK_FROM = 16;
/** Acks are removed in batches once this many are in flight or waiting for removal. */
export const BATCH_FROM = 8;

export class NatsFeed implements DeliveryFeed {
  private next = 0;
  /** Delivery id -> its place in the stream and when it was sent. */
  private inflight = new Map<string, { seq: number; sentAt: number }>();
  /** Sequences to send again (nacked, or never acked), and not before when. */
  private redo = new Map<number, number>();
  /** Acked and not yet removed from the stream. */
  private acked: number[] = [];
  private live = false;
  private reading?: Promise<void>;
  /** Something came while reading: read once more before going live. */
  private stale = false;
  /** Webhooks waiting behind what is in flight (an estimate, for the instance's backlog hint). */
  private behind: number;
  private timers = new Set<NodeJS.Timeout>();
  private removals = new Set<Promise<void>>();
  private closed = false;

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
    this.fill();
  }

  private room(): boolean {
    return !this.closed && this.inflight.size < this.window && this.to.ready();
  }

  /** A new webhook for this instance, from the tap. */
  offer(seq: number, data: Uint8Array): void {
    if (this.closed || seq < this.next) return;
    if (this.live && this.room()) return this.send(seq, data);
    this.behind++;
    this.live = false;
    this.fill();
  }

  /** Sends a webhook; one from the stream after `next` moves it on, one sent again does not. */
  private send(seq: number, data: Uint8Array, again = false): void {
    if (!again) this.next = seq + 1;
    let d;
    try {
      d = decodeDelivery(data);
    } catch {
      // Not ours to read: take it out of the way rather than offer it forever.
      this.acked.push(seq);
      return;
    }
    this.inflight.set(d.id, { seq, sentAt: Date.now() });
    this.to.send(d, this.behind + this.inflight.size);
  }

  /** Reads from `next` while the link has room; asked again while reading, it reads once more. */
  private fill(): void {
    if (this.closed) return;
    if (this.reading) return void (this.stale = true);
    this.reading = this.readOn()
      .catch((err: Error) => {
        if (!this.closed) this.to.fail(`reading its webhooks: ${err.message}`);
      })
      .finally(() => {
        this.reading = undefined;
        if (this.stale && !this.live) this.fill();
      });
  }

  private async readOn(): Promise<void> {
    const { jsm, layout } = this.ctx;
    const stream = layout.streamOf(this.instance);
    const filter = layout.hooks(this.instance);
    this.live = false;
    do {
      this.stale = false;
      for (const seq of [...this.redo.keys()].sort((a, b) => a - b)) {
        if (!this.room()) return;
        if (this.redo.get(seq)! > Date.now()) continue;
        this.redo.delete(seq);
        // Gone meanwhile (dropped to make room): nothing to send.
        const m = await jsm.streams.getMessage(stream, { seq }).catch((err) => (isNotFound(err) ? null : Promise.reject(err)));
        if (this.closed) return;
        if (!m) continue;
        if (this.behind > 0) this.behind--;
        this.send(m.seq, m.data, true);
      }
      if (this.behind >= BULK_FROM && this.room()) await this.readBulk(stream, filter);
      // What is left (or all of it, when the consumer could not be read), one by one.
      while (this.room()) {
        const m = await jsm.streams.getMessage(stream, { seq: this.next, next_by_subj: filter } as never);
        if (this.closed) return;
        if (!m) break;
        if (this.behind > 0) this.behind--;
        this.send(m.seq, m.data);
      }
      // Full: the next ack, the socket draining (wake) or the end of a pause reads on.
      if (!this.room()) return;
    } while (this.stale);
    // Read to the end and nothing came meanwhile: what comes next, the tap brings.
    this.behind = 0;
    this.live = true;
  }

  /**
   * Reads from `next` through an ordered consumer while the link has room, until the
   * consumer says nothing is left behind what it brought. Any trouble (a NATS server just
   * died) ends it: the rest is read one by one.
   */
  private async readBulk(stream: string, filter: string): Promise<void> {
    let c;
    try {
      c = await this.ctx.js.consumers.get(stream, { filter_subjects: filter, opt_start_seq: Math.max(1, this.next) });
    } catch {
      return;
    }
    try {
      for (let end = false; !end && this.room(); ) {
        const batch = await c.fetch({ max_messages: this.window - this.inflight.size, expires: 2_000 });
        end = true;
        for await (const m of batch) {
          const seq = m.info.streamSequence;
          // Full (or closed): what it brought beyond is read again from `next`.
          if (!this.room() || seq < this.next) {
            void batch.close().catch(() => {});
            return;
          }
          if (this.behind > 0) this.behind--;
          this.send(seq, m.data);
          end = m.info.pending === 0;
          // Not awaited: the iterator ends once this message is handled.
          if (end) void batch.close().catch(() => {});
        }
      }
    } catch {
      // read one by one from here
    } finally {
      void c.delete().catch(() => {});
    }
  }

  async ack(id: string): Promise<boolean> {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.inflight.delete(id);
    this.acked.push(f.seq);
    if (this.inflight.size + this.acked.length < BATCH_FROM) void this.removeAcked().catch(() => {});
    if (!this.live) this.fill();
    return true;
  }

  nack(id: string): boolean {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.again(id, f.seq, NACK_DELAY_MS);
    return true;
  }

  /** Sends it again after `delayMs` (kept in `redo` meanwhile, so no removal passes over it). */
  private again(id: string, seq: number, delayMs: number): void {
    this.inflight.delete(id);
    this.redo.set(seq, Date.now() + delayMs);
    this.behind++;
    this.live = false;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.fill();
    }, delayMs);
    this.timers.add(t);
  }

  /**
   * Called every second by the store: sends again what was sent over `ACK_WAIT_MS` ago and
   * never acked, and removes what was acked.
   */
  tick(now = Date.now()): void {
    for (const [id, f] of this.inflight) if (now - f.sentAt >= ACK_WAIT_MS) this.again(id, f.seq, 0);
    void this.removeAcked().catch(() => {});
  }

  /** Removes what was acked; what fails is tried again on the next tick. */
  private removeAcked(): Promise<void> {
    if (this.acked.length === 0) return Promise.resolve();
    const seqs = this.acked;
    this.acked = [];
    let floor = this.next - 1;
    for (const f of this.inflight.values()) floor = Math.min(floor, f.seq - 1);
    for (const seq of this.redo.keys()) floor = Math.min(floor, seq - 1);
    const removal = this.ctx
      .remove(seqs, floor)
      .catch((err) => {
        this.acked.push(...seqs);
        throw err;
      })
      .finally(() => this.removals.delete(removal));
    this.removals.add(removal);
    return removal;
  }

  async pending(): Promise<number> {
    return this.behind + this.inflight.size;
  }

  wake(): void {
    // The tap brings new webhooks by itself; what was held back for a full socket is read now.
    if (!this.live) this.fill();
  }

  forget(id: string): void {
    if (!this.inflight.delete(id)) return;
    if (!this.live) this.fill();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // What the instance acked is removed now, so its next link does not get it again.
    await Promise.all([...this.removals, this.removeAcked()].map((p) => p.catch(() => {})));
  }
}
