// The relay's store on NATS JetStream, for a cluster of stateless relay nodes (layout in
// layout.ts): registrations in a replicated KV bucket, webhooks in a replicated
// stream with the sender's delivery id (scoped, layout.ts) as the dedupe id, `append`
// resolved only once the publish is acknowledged by a quorum. Acked webhooks are removed in
// batches (feed.ts), so an ack is not a replicated write of its own. Counts per app come from the stream's per-subject
// counts, so every node sees the same numbers and the drop-oldest policy (room.ts) holds
// across nodes. Webhooks past the age limit are dropped by the stream itself (max_age).
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventLog } from '../../common/event-log.js';
import { NatsClaims } from './claims.js';
import { listenJson } from './listen.js';
import { connectNats, isNotFound, persist, type NatsOptions } from './connect.js';
import { BATCH_FROM, NatsFeed } from './feed.js';
import { ShardTap } from './tap.js';
import { NatsNodes } from './nodes.js';
import { decodeDelivery, decodeMeta, dedupeId, encodeDelivery, type NatsLayout } from './layout.js';
import type { DeliveryFeed, FeedTarget, LinkClaim, NewDelivery, Registration, RelayStore, Settled, StoredDelivery, VerdictNote, WaitingCounts, WaitingDelivery } from '../store.js';


/** How often each link removes what its instance acked, and checks for overdue acks. */
const TICK_MS = 1_000;

/**
 * A purge with a filter reads the whole shard on nats-server 2.9 (measured: 0.4 ms of NATS
 * CPU with 1,000 messages in the stream, 2 ms with 3,000); a delete is 0.4 ms whatever the
 * size. So a link's acks are purged at once only when there are at least BATCH_FROM, and at
 * least one per SHARD_PER_PURGE messages in the shard; otherwise deleted one by one.
 */
const SHARD_PER_PURGE = 250;

/** Shard sizes (for choosing purge or deletes) are read again after this. */
const SIZES_MS = 10_000;

/** An instance's app list is read again after this even when no node said it changed. */
const APPS_TTL_MS = 30_000;

/** Bounded memo tables: a node serving 100,000 instances keeps a few MB of them. */
const MEMO = 200_000;

function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  if (m.size >= MEMO) m.clear();
  m.set(k, v);
}

export interface NatsStoreOptions extends NatsOptions {
  /** This node's name, in its NATS connection and its link claims. */
  node: string;
  maxAgeMs: number;
  log: EventLog;
}

export class NatsRelayStore implements RelayStore {
  /** Registrations never change once made: a secret hash looked up once is kept. */
  private hashes = new Map<string, string>();
  /** Delivery id -> stream sequence, for settling without a scan. */
  private seqs = new Map<string, number>();
  /** The link of each instance linked to this node. */
  private feeds = new Map<string, NatsFeed>();
  private taps: ShardTap[] = [];
  private claims: NatsClaims;
  private nodes: NatsNodes;
  private ticker: NodeJS.Timeout;
  /** Messages in each shard's stream, as last read; undefined until read. */
  private sizes = new Map<string, number>();
  private sizesAt = 0;
  private connected = true;
  private totaling?: Promise<{ instances: number; waiting: number }>;
  /** Each instance's apps as last read; read again when another node says they changed, or when old. */
  private appLists = new Map<string, { at: number; names?: ReadonlySet<string> }>();
  private appsSub: Subscription;
  private verdictSub?: Subscription;

  private constructor(
    private nc: NatsConnection,
    private js: JetStreamClient,
    private jsm: JetStreamManager,
    readonly layout: NatsLayout,
    private registrations: KV,
    private links: KV,
    readonly replicas: number,
    private o: NatsStoreOptions,
  ) {
    this.claims = new NatsClaims(links, o.node);
    this.nodes = new NatsNodes(nc, layout.nodes, o.node);
    this.appsSub = listenJson<{ i: string }>(nc, layout.appsNote, ({ i }) => void this.appLists.delete(i));
    // Short: a consumer placed on a server that just died is better made again soon (tap.ts).
    const tap = { js: jetstream(nc, { timeout: 3_000 }), layout, log: o.log, deliver: (instance: string, seq: number, data: Uint8Array) => this.feeds.get(instance)?.offer(seq, data) };
    this.taps = layout.streams().map((st) => new ShardTap(tap, st.name));
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') this.connected = false;
        else if (st.type === 'reconnect') {
          this.connected = true;
          for (const t of this.taps) t.remake('this node reconnected to NATS');
        }
      }
    })();
    this.ticker = setInterval(() => {
      for (const f of this.feeds.values()) f.tick();
      if (Date.now() - this.sizesAt >= SIZES_MS) void this.readSizes();
    }, TICK_MS);
    this.ticker.unref();
  }

  static async open(o: NatsStoreOptions): Promise<NatsRelayStore> {
    const p = await connectNats(o, o.node, o.log, o.maxAgeMs);
    const store = new NatsRelayStore(p.nc, p.js, p.jsm, p.layout, p.instances, p.links, p.replicas, o);
    try {
      await store.claims.start();
      const lasts = await Promise.all(store.taps.map((t) => persist(() => p.jsm.streams.info(t.stream), 15_000).then((i) => i.state.last_seq)));
      store.taps.forEach((t, i) => void t.startAfter(lasts[i]));
    } catch (err) {
      await store.close();
      throw err;
    }
    // The other nodes answer the hello: known before the first webhook is taken.
    await new Promise((r) => setTimeout(r, 300));
    return store;
  }

  async register(id: string, secretHash: string): Promise<Registration> {
    const value = JSON.stringify({ secretHash, createdAt: new Date().toISOString() });
    try {
      // Create only if absent: two nodes registering one id at once cannot both win.
      await this.registrations.create(id, value);
      remember(this.hashes, id, secretHash);
      return 'created';
    } catch (err) {
      const cur = await this.lookup(id);
      if (cur === undefined) throw err;
      return cur === secretHash ? 'exists' : 'taken';
    }
  }

  async lookup(id: string): Promise<string | undefined> {
    const known = this.hashes.get(id);
    if (known !== undefined) return known;
    const e = await this.registrations.get(id);
    if (!e || e.operation !== 'PUT') return undefined;
    const hash = e.json<{ secretHash: string }>().secretHash;
    remember(this.hashes, id, hash);
    return hash;
  }

  async append(instance: string, d: NewDelivery): Promise<string | void> {
    const msgID = dedupeId(instance, d);
    // Keyed by the sender's delivery id, the webhook is stored under an id made from that key:
    // a retry (a sender's, or a balancer's while a node restarts) is answered with the id of
    // the copy stored before without reading it, which may be delivered and removed by then.
    const stored = msgID === d.id ? d : { ...d, id: `rly_${Buffer.from(msgID, 'base64url').toString('hex', 0, 16)}` };
    const data = encodeDelivery(stored);
    // Within a sender's patience (GitHub waits 10 s, and never retries by itself).
    const ack = await persist(() => this.js.publish(this.layout.hook(instance, d.app, data.length), data, { msgID, timeout: 4_000 }), 8_000);
    if (!ack.duplicate) remember(this.seqs, stored.id, ack.seq);
    return stored.id;
  }

  async pending(instance: string, limit = Infinity, app?: string): Promise<WaitingDelivery[]> {
    const filter = this.layout.hooks(instance, app);
    const out: WaitingDelivery[] = [];
    let seq = 0;
    while (out.length < limit) {
      const m = await this.jsm.streams.getMessage(this.layout.streamOf(instance), { seq, next_by_subj: filter } as never);
      if (!m) break;
      const { id, app: a, at } = decodeMeta(m.data);
      remember(this.seqs, id, m.seq);
      out.push({ id, app: a, at });
      seq = m.seq + 1;
    }
    return out;
  }

  private async seqOf(instance: string, id: string): Promise<number | undefined> {
    const known = this.seqs.get(id);
    if (known !== undefined) return known;
    // Not seen by this node: look through the instance's waiting webhooks (rare).
    await this.pending(instance);
    return this.seqs.get(id);
  }

  async read(instance: string, id: string): Promise<StoredDelivery | undefined> {
    const seq = await this.seqOf(instance, id);
    if (seq === undefined) return undefined;
    const m = await this.jsm.streams.getMessage(this.layout.streamOf(instance), { seq });
    if (!m) return undefined;
    const d = decodeDelivery(m.data);
    return d.id === id ? d : undefined;
  }

  async settle(instance: string, id: string, _how: Settled): Promise<boolean> {
    const seq = await this.seqOf(instance, id);
    if (seq === undefined) return false;
    this.seqs.delete(id);
    return this.deleteSeq(instance, seq);
  }

  /** Removes a link's acked webhooks: one purge up to `floor` when that is cheaper, else a delete each. */
  private async removeAcked(instance: string, seqs: number[], floor: number): Promise<void> {
    const stream = this.layout.streamOf(instance);
    const below = seqs.filter((s) => s <= floor).length;
    if (below >= BATCH_FROM && below * SHARD_PER_PURGE >= (this.sizes.get(stream) ?? Infinity)) {
      await persist(() => this.jsm.streams.purge(stream, { filter: this.layout.hooks(instance), seq: floor + 1 }), 15_000);
      seqs = seqs.filter((s) => s > floor);
    }
    await Promise.all(seqs.map((s) => this.deleteSeq(instance, s)));
  }

  private async readSizes(): Promise<void> {
    this.sizesAt = Date.now();
    await Promise.all(this.layout.streams().map((st) => this.jsm.streams.info(st.name).then((i) => void this.sizes.set(st.name, i.state.messages)))).catch(() => {});
  }

  private async deleteSeq(instance: string, seq: number): Promise<boolean> {
    try {
      // An ack the instance sent must not be lost to a leader election: it would be resent
      // only after the consumer's ack wait.
      return await persist(() => this.jsm.streams.deleteMessage(this.layout.streamOf(instance), seq, false), 30_000);
    } catch (err) {
      // Settled already, here or by another node.
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async counts(instance: string): Promise<WaitingCounts> {
    const info = await this.jsm.streams.info(this.layout.streamOf(instance), { subjects_filter: this.layout.hooks(instance) });
    return this.tally(info.state.subjects).get(instance) ?? { waiting: 0, bytes: 0, apps: {} };
  }

  groupOf(instance: string): string {
    return this.layout.streamOf(instance);
  }

  async countGroup(stream: string): Promise<Map<string, WaitingCounts>> {
    const info = await this.jsm.streams.info(stream, { subjects_filter: this.layout.shardHooks(stream) });
    return this.tally(info.state.subjects);
  }

  /** Per-subject counts of a stream, summed per instance and app. */
  private tally(subjects: Record<string, number> = {}): Map<string, WaitingCounts> {
    const out = new Map<string, WaitingCounts>();
    for (const [subject, n] of Object.entries(subjects)) {
      const { instance, app, maxBytes } = this.layout.parseHook(subject);
      let c = out.get(instance);
      if (!c) out.set(instance, (c = { waiting: 0, bytes: 0, apps: {} }));
      const a = (c.apps[app] ??= { waiting: 0, bytes: 0 });
      a.waiting += n;
      a.bytes += n * maxBytes;
      c.waiting += n;
      c.bytes += n * maxBytes;
    }
    return out;
  }

  totals(): Promise<{ instances: number; waiting: number }> {
    // Health checks from every balancer at once share one round of requests (a count per shard).
    this.totaling ??= (async () => {
      try {
        const [status, ...infos] = await Promise.all([this.registrations.status(), ...this.layout.streams().map((st) => this.jsm.streams.info(st.name))]);
        infos.forEach((i) => this.sizes.set(i.config.name, i.state.messages));
        return { instances: status.values, waiting: infos.reduce((n, i) => n + i.state.messages, 0) };
      } finally {
        this.totaling = undefined;
      }
    })();
    return this.totaling;
  }

  async apps(instance: string): Promise<ReadonlySet<string> | undefined> {
    const known = this.appLists.get(instance);
    // A missed note (a node cut off for a moment) is made good within this.
    if (known && Date.now() - known.at < APPS_TTL_MS) return known.names;
    const e = await this.links.get(`apps.${instance}`);
    let names: ReadonlySet<string> | undefined;
    try {
      names = e && e.operation === 'PUT' ? new Set(e.json<string[]>()) : undefined;
    } catch {
      names = undefined; // as if never said
    }
    remember(this.appLists, instance, { at: Date.now(), names });
    return names;
  }

  async setApps(instance: string, names: string[]): Promise<void> {
    const cur = await this.apps(instance);
    if (cur && cur.size === names.length && names.every((n) => cur.has(n))) return;
    await persist(() => this.links.put(`apps.${instance}`, JSON.stringify(names)), 15_000);
    this.appLists.delete(instance);
    this.nc.publish(this.layout.appsNote, JSON.stringify({ i: instance }));
  }

  readonly verdicts = {
    tell: (v: VerdictNote) => this.nc.publish(this.layout.verdicts, JSON.stringify({ i: v.instance, s: v.src, ok: v.accepted })),
    hear: (fn: (v: VerdictNote) => void) => {
      this.verdictSub = listenJson<{ i: unknown; s: unknown; ok: unknown }>(this.nc, this.layout.verdicts, ({ i, s, ok }) => {
        if (typeof i === 'string' && typeof s === 'string' && typeof ok === 'boolean') fn({ instance: i, src: s, accepted: ok });
      });
    },
  };

  async instances(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.registrations.keys()) out.push(k);
    return out;
  }

  async feed(instance: string, to: FeedTarget, window: number, waiting: number): Promise<DeliveryFeed> {
    const f = new NatsFeed({ js: this.js, jsm: this.jsm, layout: this.layout, waiting, remove: (seqs, floor) => this.removeAcked(instance, seqs, floor) }, instance, to, window);
    // The hub keeps one link per instance on a node; a newer one takes the tap's deliveries.
    this.feeds.get(instance)?.close();
    this.feeds.set(instance, f);
    const close = f.close.bind(f);
    f.close = async () => {
      if (this.feeds.get(instance) === f) this.feeds.delete(instance);
      await close();
    };
    f.start();
    return f;
  }

  writers(): number {
    return this.nodes.count();
  }

  available(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining() && this.connected;
  }

  claim(instance: string, lost: () => void): Promise<LinkClaim> {
    return this.claims.claim(instance, lost);
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    for (const f of [...this.feeds.values()]) await f.close();
    await Promise.all(this.taps.map((t) => t.close()));
    this.claims.close();
    this.nodes.close();
    this.appsSub.unsubscribe();
    this.verdictSub?.unsubscribe();
    await this.nc.drain().catch(() => this.nc.close());
  }
}
