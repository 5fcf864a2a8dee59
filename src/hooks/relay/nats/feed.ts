// One connected instance's deliveries on a relay cluster, kept by one position in the shard:
// `next`, the stream sequence the link reads from. Every webhook of the instance before it
// was sent on this link; none from it on was. The link reads the stream from `next` until
// nothing is left (a request per webhook; a backlog of BULK_FROM or more through an ordered
// consumer of the JetStream client, a window at a time, as fast as the instance acks), then
// is live: new webhooks from this node's tap of the shard (tap.ts) go straight out while the
// link can take them. One it cannot take (window or socket full) ends that, and the link
// reads from `next` again once it can. A nack, or an ack overdue, puts that one webhook in
// `redo`, read again by its sequence before going on.
//
// An ack writes nothing: the shard's keeper (keeper.ts) asks each second what the link still
// needs (`needs`: what is in flight or to be sent again, and everything from `next`), and
// purges the rest. What it passed over and the link still needs it copies to the parked
// stream first; the link reads those (`parkedNext` is its position there) before the shard,
// and deletes each as it is acked. On a clean close, what was acked in the last seconds is
// deleted, so the instance's next link does not get it again; after a crash it does, and the
// instance drops it by id.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { deleteAt, messageAt } from './connect.js';
import { decodeDelivery, originalOf, type NatsLayout, type Place } from './layout.js';
import type { DeliveryFeed, FeedTarget } from '../store.js';

export interface FeedContext {
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: NatsLayout;
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
/** How long a shard webhook sent on this link is remembered, for a parked copy made meanwhile (a keeper round ends well within it). */
const PAIRED_MS = 60_000;
/** And how many at most, whatever the rate: the oldest go first. */
const PAIRED_MAX = 20_000;

/** Adds to a table kept in the order things were sent, within PAIRED_MAX. */
function keepSent<V>(table: Map<number, V>, seq: number, v: V): void {
  table.delete(seq);
  table.set(seq, v);
  if (table.size > PAIRED_MAX) table.delete(table.keys().next().value!);
}

/** Drops what was remembered before `before` (the table is in the order things were sent). */
function forgetOlder(table: Map<number, { at: number }>, before: number): void {
  for (const [seq, x] of table) {
    if (x.at >= before) return;
    table.delete(seq);
  }
}
/** Acked this recently, a webhook may not be purged yet: deleted when the link closes cleanly. */
const RECENT_MS = 3_000;

/** What a link still needs of its shard: everything from `next`, and `held` (in flight, or to be sent again). */
export interface LinkNeeds {
  next: number;
  held: number[];
}

export class NatsFeed implements DeliveryFeed {
  private next = 0;
  /** Position in the parked stream, and whether something may be parked there for this link. */
  private parkedNext = 0;
  private parkedDue = true;
  /** Delivery id -> where it is and when it was sent. */
  private inflight = new Map<string, Place & { sentAt: number }>();
  /** Delivery id -> what to send again (nacked, or never acked), and not before when. */
  private redo = new Map<string, Place & { at: number }>();
  /**
   * Shard webhooks sent on this link lately (shard sequence -> delivery id, when), and the
   * originals of parked copies sent (shard sequence -> when): a keeper round that asked what
   * links need before this link was there copies a webhook to the parked stream while the
   * link reads it from the shard, and the link must send it once, not from both (CI saw 7 of
   * 1,001 twice). Both are kept for PAIRED_MS, at most PAIRED_MAX each.
   */
  private fromShard = new Map<number, { id: string; at: number }>();
  private fromParked = new Map<number, { at: number }>();
  /** Shard sequences acked lately, and when: deleted on a clean close. */
  private acked: { seq: number; at: number }[] = [];
  private live = false;
  private reading?: Promise<void>;
  /** Something came while reading: read once more before going live. */
  private stale = false;
  /** Webhooks waiting behind what is in flight (an estimate, for the instance's backlog hint). */
  private behind: number;
  private timers = new Set<NodeJS.Timeout>();
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
    if (this.closed || seq < this.next || this.sentParked(seq)) return;
    if (this.live && this.room()) return this.send({ seq, parked: false }, data);
    this.behind++;
    this.live = false;
    this.fill();
  }

  /** Sends a webhook; one from the shard after `next` moves it on, one sent again does not. */
  private send(place: Place, data: Uint8Array, again = false): void {
    if (!again && !place.parked) this.next = place.seq + 1;
    let d;
    try {
      d = decodeDelivery(data);
    } catch {
      // Not ours to read: out of the way (purged, or deleted if parked) rather than offered forever.
      if (place.parked) void this.dropParked(place.seq);
      return;
    }
    this.inflight.set(d.id, { ...place, sentAt: Date.now() });
    if (!place.parked) keepSent(this.fromShard, place.seq, { id: d.id, at: Date.now() });
    this.to.send(d, this.behind + this.inflight.size);
  }

  /**
   * A parked copy (its message id names its original: `copyId`, layout.ts) of a webhook
   * this link already sent from the shard: not sent again. Still in flight or to be sent
   * again, it is followed by its copy from now on (the keeper may purge the original once it
   * has the copy); acked, the copy is deleted.
   */
  private sentFromShard(parkedSeq: number, msgId: string): boolean {
    const original = originalOf(msgId);
    if (!original || original.stream !== this.ctx.layout.streamOf(this.instance)) return false;
    keepSent(this.fromParked, original.seq, { at: Date.now() });
    const sent = this.fromShard.get(original.seq);
    if (!sent) return false;
    const f = this.inflight.get(sent.id) ?? this.redo.get(sent.id);
    if (f && !f.parked) {
      f.seq = parkedSeq;
      f.parked = true;
    } else if (!f) void this.dropParked(parkedSeq);
    return true;
  }

  /** A shard webhook whose parked copy this link sent already: skipped (the keeper purges it). */
  private sentParked(seq: number): boolean {
    if (!this.fromParked.has(seq)) return false;
    if (seq >= this.next) this.next = seq + 1;
    return true;
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
      for (const [id, r] of [...this.redo].sort((a, b) => a[1].seq - b[1].seq)) {
        if (!this.room()) return;
        if (r.at > Date.now()) continue;
        this.redo.delete(id);
        // Gone meanwhile (dropped to make room): nothing to send.
        const m = await messageAt(jsm, layout.streamOf(this.instance, r.parked), r.seq);
        if (this.closed) return;
        if (!m) continue;
        if (this.behind > 0) this.behind--;
        this.send({ seq: r.seq, parked: r.parked }, m.data, true);
      }
      // Parked ones are older than anything in the shard: first, one by one (few, and rare).
      while (this.parkedDue && this.room()) {
        const m = await messageAt(jsm, layout.parkedStream, this.parkedNext, { filter: layout.parked(this.instance) });
        if (this.closed) return;
        if (!m) {
          this.parkedDue = false;
          break;
        }
        this.parkedNext = m.seq + 1;
        if (this.sentFromShard(m.seq, m.header?.get('Nats-Msg-Id') ?? '')) continue;
        if (this.behind > 0) this.behind--;
        this.send({ seq: m.seq, parked: true }, m.data);
      }
      if (this.behind >= BULK_FROM && this.room()) await this.readBulk(stream, filter);
      // What is left (or all of it, when the consumer could not be read), one by one.
      while (this.room()) {
        const m = await messageAt(jsm, stream, this.next, { filter });
        if (this.closed) return;
        if (!m) break;
        if (this.sentParked(m.seq)) continue;
        if (this.behind > 0) this.behind--;
        this.send({ seq: m.seq, parked: false }, m.data);
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
          end = m.info.pending === 0;
          if (!this.sentParked(seq)) {
            if (this.behind > 0) this.behind--;
            this.send({ seq, parked: false }, m.data);
          }
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
    if (f.parked) void this.dropParked(f.seq);
    else this.acked.push({ seq: f.seq, at: Date.now() });
    if (!this.live) this.fill();
    return true;
  }

  /** A parked webhook acked (or unreadable) is deleted: nothing else removes it before its age runs out. */
  private async dropParked(seq: number): Promise<void> {
    // An ack must not be lost to a leader election: the webhook would be sent again on the next link.
    await deleteAt(this.ctx.jsm, this.ctx.layout.parkedStream, seq, 30_000).catch(() => false);
  }

  nack(id: string): boolean {
    const f = this.inflight.get(id);
    if (f === undefined) return false;
    this.again(id, f, NACK_DELAY_MS);
    return true;
  }

  /** Sends it again after `delayMs` (kept in `redo` meanwhile, so no purge passes over it). */
  private again(id: string, place: Place, delayMs: number): void {
    this.inflight.delete(id);
    this.redo.set(id, { seq: place.seq, parked: place.parked, at: Date.now() + delayMs });
    this.behind++;
    this.live = false;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.fill();
    }, delayMs);
    this.timers.add(t);
  }

  /** Called every second by the store: sends again what was sent over `ACK_WAIT_MS` ago and never acked. */
  tick(now = Date.now()): void {
    for (const [id, f] of this.inflight) if (now - f.sentAt >= ACK_WAIT_MS) this.again(id, f, 0);
    let old = 0;
    while (old < this.acked.length && now - this.acked[old].at >= RECENT_MS) old++;
    if (old > 0) this.acked.splice(0, old);
    forgetOlder(this.fromShard, now - PAIRED_MS);
    forgetOlder(this.fromParked, now - PAIRED_MS);
  }

  /** What the shard's keeper must not purge without parking it first (keeper.ts). */
  needs(): LinkNeeds {
    const held: number[] = [];
    for (const f of this.inflight.values()) if (!f.parked) held.push(f.seq);
    for (const r of this.redo.values()) if (!r.parked) held.push(r.seq);
    return { next: this.next, held };
  }

  /** The keeper parked some of this instance's webhooks: read them. */
  parkedSome(): void {
    this.parkedDue = true;
    this.live = false;
    this.fill();
  }

  async pending(): Promise<number> {
    // A read under way (an ack starts one) ends by setting `behind` right: 0 once it found
    // nothing more. Counted before it ends, the last ack of a backlog left the instance told
    // of webhooks already delivered until the next heartbeat.
    await this.reading;
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
    // What the instance acked lately may not be purged yet: deleted now, so its next link
    // does not get it again (one already purged is simply not found).
    const stream = this.ctx.layout.streamOf(this.instance);
    const seqs = this.acked.splice(0).map((a) => a.seq);
    await Promise.all(seqs.map((seq) => deleteAt(this.ctx.jsm, stream, seq, 0).catch(() => false)));
  }
}
