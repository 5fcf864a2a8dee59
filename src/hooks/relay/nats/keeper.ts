// Acked webhooks leave a shard's stream without a write each. One node keeps each shard
// (shard k: the k-th of the live nodes' sorted names, round robin) and, each second, looks
// at what its tap brought before the last round:
//   1. it asks every node what their links still need of those instances (`<prefix>.acked`,
//      answered by each node for the links it holds: feed.ts `needs`);
//   2. the lowest webhook some link has in flight, or will send again, is the floor;
//   3. below the floor, each webhook no link has had acked (its instance offline, or behind)
//      is copied to the parked stream (with a dedupe id), and its link told to read it;
//   4. the shard is purged up to the floor, one request, whatever it removes.
// Nothing unacked is lost: a webhook is purged only once its copy is stored, or once the
// node holding its instance's link said it was acked. An instance no node answers for (a
// node that died, a link being made) has everything copied, and its next link may be sent
// some twice: the instance drops them by id. Two nodes keeping a shard for a moment (the
// list of nodes changing) is harmless: copies carry a dedupe id, and each purge passes only
// what was acked or copied.
//
// Measured (bench/nats-removal.ts, 3 nats-server 2.9 at R=3): a delete is 0.36-0.59 ms of
// NATS CPU, one purge up to a sequence under 0.01 ms per webhook it removes.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventLog } from '../../common/event-log.js';
import { deleteAt, messageAt, persist } from './connect.js';
import type { LinkNeeds } from './feed.js';
import { copyId, type NatsLayout } from './layout.js';

export interface KeeperContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: NatsLayout;
  log: EventLog;
  node: string;
  /** The live relay nodes' names, this one among them, sorted. */
  nodes(): string[];
  /** The last stream sequence this node's tap of the shard brought. */
  tapped(stream: string): number;
  /** What this node's links still need, for those of `instances` it holds a link for. */
  needs(instances: string[]): Map<string, LinkNeeds>;
  /** Shard sequences of `instances` this node dropped (settled) in the last seconds. */
  settled(instances: string[]): Map<string, number[]>;
}

const ROUND_MS = 1_000;
/** How long the keeper waits for every node's answer; an instance no one answered for is parked. */
const ASK_MS = 1_000;
/** Copies in flight at once. */
const COPIES = 64;

/** What the keeper knows of one shard it keeps: every webhook not yet purged, in order (`seqs[k]` is `instances[k]`'s). */
interface Ledger {
  seqs: number[];
  instances: string[];
  /** Webhooks below this were brought by the tap a round ago or more. */
  mark: number;
  loading?: Promise<void>;
  busy?: boolean;
}

export class ShardKeeper {
  private ledgers = new Map<string, Ledger>();
  private rounds = new Set<Promise<void>>();
  private closed = false;
  private timer: NodeJS.Timeout;
  private sub: Subscription;

  constructor(private ctx: KeeperContext) {
    this.sub = ctx.nc.subscribe(ctx.layout.acked, {
      callback: (err, m) => {
        if (err) return;
        let instances: unknown;
        let drops: unknown;
        try {
          ({ i: instances, d: drops } = m.json<{ i: unknown; d?: unknown }>());
        } catch {
          return;
        }
        if (!Array.isArray(instances)) return;
        const asked = instances.filter((x): x is string => typeof x === 'string');
        const v: Record<string, number[]> = {};
        for (const [i, n] of ctx.needs(asked)) v[i] = [n.next, ...n.held];
        m.respond(JSON.stringify({ n: ctx.node, v, d: drops === true ? Object.fromEntries(ctx.settled(asked)) : {} }));
      },
    });
    this.timer = setInterval(() => this.round(), ROUND_MS);
    this.timer.unref();
  }

  /** A webhook the tap brought: recorded if this node keeps its shard. */
  saw(stream: string, seq: number, instance: string): void {
    const l = this.ledgers.get(stream);
    if (!l) return;
    l.seqs.push(seq);
    l.instances.push(instance);
  }

  private kept(): string[] {
    const names = this.ctx.nodes();
    const me = names.indexOf(this.ctx.node);
    return this.ctx.layout.streams().filter((_, k) => k % names.length === me).map((st) => st.name);
  }

  private round(): void {
    if (this.closed) return;
    const kept = new Set(this.kept());
    for (const stream of this.ledgers.keys()) if (!kept.has(stream)) this.ledgers.delete(stream);
    for (const stream of kept) {
      let l = this.ledgers.get(stream);
      if (!l) {
        l = this.take(stream);
        continue;
      }
      if (l.loading || l.busy) continue;
      l.busy = true;
      const ledger = l;
      const round = this.keep(stream, ledger)
        .catch((err: Error) => this.ctx.log('keeper-round', { stream, reason: err.message }))
        .finally(() => {
          ledger.busy = false;
          this.rounds.delete(round);
        });
      this.rounds.add(round);
    }
  }

  /** Starts keeping a shard: what the tap brings from now is recorded, and what was there before is read once. */
  private take(stream: string): Ledger {
    const upTo = this.ctx.tapped(stream);
    const l: Ledger = { seqs: [], instances: [], mark: upTo + 1 };
    this.ledgers.set(stream, l);
    l.loading = this.readBefore(stream, upTo)
      .then(({ seqs, instances }) => {
        l.seqs = seqs.concat(l.seqs);
        l.instances = instances.concat(l.instances);
        l.loading = undefined;
      })
      .catch((err: Error) => {
        // Tried again next round, from scratch.
        if (this.ledgers.get(stream) === l) this.ledgers.delete(stream);
        this.ctx.log('keeper-round', { stream, reason: `reading the shard: ${err.message}` });
      });
    return l;
  }

  /** Every webhook of the shard up to `upTo`, by subject only: the whole range or an error. */
  private async readBefore(stream: string, upTo: number): Promise<{ seqs: number[]; instances: string[] }> {
    const seqs: number[] = [];
    const instances: string[] = [];
    const info = await this.ctx.jsm.streams.info(stream);
    if (info.state.messages === 0 || info.state.first_seq > upTo) return { seqs, instances };
    const c = await this.ctx.js.consumers.get(stream, { filter_subjects: this.ctx.layout.shardHooks(stream), opt_start_seq: info.state.first_seq, headers_only: true });
    try {
      for (let done = false; !done; ) {
        const batch = await c.fetch({ max_messages: 1_000, expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const seq = m.info.streamSequence;
          if (seq > upTo) {
            done = true;
            break;
          }
          seqs.push(seq);
          instances.push(this.ctx.layout.parseHook(m.subject).instance);
          if (seq === upTo || m.info.pending === 0) done = true;
        }
        if (!done && got === 0) throw new Error(`stopped after sequence ${seqs.at(-1) ?? 'none'} of ${upTo}`);
      }
    } finally {
      void c.delete().catch(() => {});
    }
    return { seqs, instances };
  }

  /** One round for one shard: ask, copy what is needed below the floor, purge up to it. */
  private async keep(stream: string, l: Ledger): Promise<void> {
    const end = l.mark;
    l.mark = this.ctx.tapped(stream) + 1;
    let n = 0;
    while (n < l.seqs.length && l.seqs[n] < end) n++;
    if (n === 0) return;
    const { needs } = await this.ask([...new Set(l.instances.slice(0, n))]);
    let floor = end;
    const wanted: number[] = [];
    for (let k = 0; k < n; k++) {
      const need = needs.get(l.instances[k]);
      const seq = l.seqs[k];
      if (need?.held.has(seq)) floor = Math.min(floor, seq);
      else if (!need || seq >= need.next) wanted.push(k);
    }
    const copies = wanted.filter((k) => l.seqs[k] < floor);
    const made: { seq: number; copy: number; instance: string }[] = [];
    for (let k = 0; k < copies.length; k += COPIES) {
      await Promise.all(
        copies.slice(k, k + COPIES).map(async (j) => {
          const copy = await this.park(stream, l.seqs[j]);
          if (copy !== undefined) made.push({ seq: l.seqs[j], copy, instance: l.instances[j] });
        }),
      );
    }
    // With the shard's own filter, not none: nats-server 2.9 then removes message by message.
    // Without one it compacts the store, and under deletes running alongside it was seen to
    // remove everything to the end (2.9.10: a purge to 1,555 of 57 messages from 1,353 to
    // 1,584 removed all 57); with the filter, never.
    if (floor > l.seqs[0]) await persist(() => this.ctx.jsm.streams.purge(stream, { seq: floor, filter: this.ctx.layout.shardHooks(stream) }), 15_000);
    // One a node dropped (to make room) after it was copied must not come back as its copy.
    // Every drop is noted before its delete, so a drop that beat the purge is in the answers.
    if (made.length > 0) {
      const { settled } = await this.ask([...new Set(made.map((c) => c.instance))], true);
      await Promise.all(made.filter((c) => settled.has(c.seq)).map((c) => deleteAt(this.ctx.jsm, this.ctx.layout.parkedStream, c.copy, 15_000).catch(() => false)));
    }
    let cut = 0;
    while (cut < l.seqs.length && l.seqs[cut] < floor) cut++;
    const parkedFor = new Set(copies.map((j) => l.instances[j]));
    l.seqs.splice(0, cut);
    l.instances.splice(0, cut);
    if (parkedFor.size > 0) this.ctx.nc.publish(this.ctx.layout.parkedNote, JSON.stringify({ i: [...parkedFor] }));
  }

  /** Every node's answer for these instances, merged: the lowest `next`, all held; and every shard sequence dropped lately. */
  private async ask(instances: string[], drops = false): Promise<{ needs: Map<string, { next: number; held: Set<number> }>; settled: Set<number> }> {
    const out = new Map<string, { next: number; held: Set<number> }>();
    const settled = new Set<number>();
    const replies = await this.ctx.nc.requestMany(this.ctx.layout.acked, JSON.stringify({ i: instances, d: drops }), { strategy: 'count', maxMessages: this.ctx.nodes().length, maxWait: ASK_MS });
    for await (const m of replies) {
      let v: Record<string, unknown>;
      let d: Record<string, unknown>;
      try {
        ({ v = {}, d = {} } = m.json<{ v?: Record<string, unknown>; d?: Record<string, unknown> }>());
      } catch {
        continue;
      }
      for (const seqs of Object.values(d)) if (Array.isArray(seqs)) for (const x of seqs) if (Number.isSafeInteger(x)) settled.add(x as number);
      for (const [i, nums] of Object.entries(v)) {
        if (!Array.isArray(nums) || nums.length === 0 || !nums.every((x) => Number.isSafeInteger(x))) continue;
        const [next, ...held] = nums as number[];
        const cur = out.get(i);
        if (cur) {
          cur.next = Math.min(cur.next, next);
          for (const h of held) cur.held.add(h);
        } else out.set(i, { next, held: new Set(held) });
      }
    }
    return { needs: out, settled };
  }

  /** Copies one webhook to the parked stream: the copy's sequence, or none when the webhook is gone already (dropped, or parked by another keeper). */
  private async park(stream: string, seq: number): Promise<number | undefined> {
    const m = await messageAt(this.ctx.jsm, stream, seq, { budgetMs: 15_000 });
    if (!m) return undefined;
    const ack = await persist(() => this.ctx.js.publish(this.ctx.layout.parkedSubject(m.subject), m.data, { msgID: copyId(stream, seq), timeout: 4_000 }), 15_000);
    // A duplicate (copied by an earlier round whose purge failed) answers with that copy.
    return ack.seq;
  }


  /** Stops after the rounds under way: one cut short could leave a dropped webhook's copy behind. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.rounds]);
    this.sub.unsubscribe();
  }
}
