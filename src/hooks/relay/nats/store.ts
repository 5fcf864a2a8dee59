// The relay's store on NATS JetStream, for a cluster of stateless relay nodes (layout in
// layout.ts): registrations in a replicated KV bucket, webhooks in a replicated
// stream with the sender's delivery id (scoped, layout.ts) as the dedupe id, `append`
// resolved only once the publish is acknowledged by a quorum. Acked webhooks leave a shard
// by one purge a second (keeper.ts), so an ack is not a replicated write of its own. Counts
// per app come from the streams' per-subject counts (the shard and the parked stream), so
// every node sees the same numbers and the drop-oldest policy (room.ts) holds across nodes;
// for up to two seconds they include webhooks acked and not yet purged. Webhooks past the
// age limit are dropped by the streams themselves (max_age).
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventLog } from '../../common/event-log.js';
import { NatsClaims } from './claims.js';
import { listenJson } from './listen.js';
import { connectNats, deleteAt, messageAt, persist, type NatsOptions } from './connect.js';
import { NatsFeed, type LinkNeeds } from './feed.js';
import { ShardKeeper } from './keeper.js';
import { ShardTap } from './tap.js';
import { VerdictNotes } from './verdicts.js';
import { Followed } from './watch.js';
import { RateLimiter } from '../limits.js';
import { NatsNodes } from './nodes.js';
import { decodeDelivery, decodeMeta, dedupeId, encodeDelivery, type NatsLayout, type Place } from './layout.js';
import type { DeliveryFeed, FeedTarget, LinkClaim, NewDelivery, Registration, RelayStore, Settled, StoredDelivery, WaitingCounts, WaitingDelivery } from '../store.js';


/** How often each link checks for overdue acks. */
const TICK_MS = 1_000;

/** Drops are remembered this long: past any keeper round that could have copied one. */
const DROPPED_MS = 60_000;

/** Totals (for health checks) are shared this long. */
const TOTALS_MS = 1_000;

/** An app list read (not brought by the watch or a note) is read again after this. */
const APPS_TTL_MS = 30_000;

/** Reads a second (and at once) of the registrations bucket for ids its watch did not bring. */
const MISS_READS = 20;

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
  /** Secret hashes, followed from the registrations bucket so a new instance on this node costs no read; a registration never changes once made. */
  private hashes = new Followed<string>(MEMO);
  /** Reads for ids the registrations watch did not bring (see `lookup`). */
  private missReads = new RateLimiter(MISS_READS, MISS_READS, 1);
  /** Delivery id -> where it is stored, for settling without a scan. */
  private seqs = new Map<string, Place>();
  /** The link of each instance linked to this node. */
  private feeds = new Map<string, NatsFeed>();
  private taps: ShardTap[] = [];
  private claims: NatsClaims;
  private nodes: NatsNodes;
  private keeper: ShardKeeper;
  private ticker: NodeJS.Timeout;
  private connected = true;
  private totaling?: Promise<{ instances: number; waiting: number }>;
  private totaled?: { at: number; value: { instances: number; waiting: number } };
  /** Each instance's apps: from the watch or a node's note (kept, `at` Infinity), or read (again after APPS_TTL_MS). */
  private appLists = new Followed<{ at: number; names?: ReadonlySet<string> }>(MEMO);
  private appsSub: Subscription;
  private parkedSub: Subscription;
  /** Shard sequences this node dropped lately, per instance: a keeper copying one meanwhile deletes the copy (keeper.ts). */
  private dropped = new Map<string, { seq: number; at: number }[]>();
  readonly verdicts: VerdictNotes;

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
    this.verdicts = new VerdictNotes(nc, layout.verdicts, o.node);
    this.nodes = new NatsNodes(nc, layout.nodes, o.node);
    // The note carries the list: a read of the bucket now may be answered by a replica that
    // has not applied the put yet.
    this.appsSub = listenJson<{ i: unknown; n?: unknown; a?: unknown }>(nc, layout.appsNote, ({ i, n, a }) => {
      if (typeof i !== 'string' || n === o.node) return;
      if (Array.isArray(a) && a.every((x) => typeof x === 'string')) this.appLists.set(i, { at: Infinity, names: new Set(a as string[]) });
      else this.appLists.delete(i);
    });
    // Short: a consumer placed on a server that just died is better made again soon (tap.ts).
    const tap = {
      js: jetstream(nc, { timeout: 3_000 }),
      layout,
      log: o.log,
      deliver: (stream: string, instance: string, seq: number, data: Uint8Array) => {
        this.keeper.saw(stream, seq, instance);
        this.feeds.get(instance)?.offer(seq, data);
      },
    };
    this.taps = layout.streams().map((st) => new ShardTap(tap, st.name));
    this.keeper = new ShardKeeper({
      nc,
      js,
      jsm,
      layout,
      log: o.log,
      node: o.node,
      nodes: () => this.nodes.names(),
      tapped: (stream) => this.taps.find((t) => t.stream === stream)?.reached() ?? 0,
      needs: (instances) => {
        const out = new Map<string, LinkNeeds>();
        for (const i of instances) {
          const f = this.feeds.get(i);
          if (f) out.set(i, f.needs());
        }
        return out;
      },
      settled: (instances) => {
        const out = new Map<string, number[]>();
        for (const i of instances) {
          const d = this.dropped.get(i);
          if (d) out.set(i, d.map((x) => x.seq));
        }
        return out;
      },
    });
    this.parkedSub = listenJson<{ i: unknown }>(nc, layout.parkedNote, ({ i }) => {
      if (Array.isArray(i)) for (const x of i) if (typeof x === 'string') this.feeds.get(x)?.parkedSome();
    });
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
      const old = Date.now() - DROPPED_MS;
      for (const [i, d] of this.dropped) {
        while (d.length > 0 && d[0].at < old) d.shift();
        if (d.length === 0) this.dropped.delete(i);
      }
    }, TICK_MS);
    this.ticker.unref();
  }

  static async open(o: NatsStoreOptions): Promise<NatsRelayStore> {
    const p = await connectNats(o, o.node, o.log, o.maxAgeMs);
    const store = new NatsRelayStore(p.nc, p.js, p.jsm, p.layout, p.instances, p.links, p.replicas, o);
    try {
      await store.claims.start();
      store.follow();
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

  private follow(): void {
    this.hashes.follow(this.registrations, '>', (e) => {
      const hash = secretHashOf(e);
      return hash === undefined ? undefined : [e.key, hash];
    });
    this.appLists.follow(this.links, 'apps.*', (e) => [e.key.slice('apps.'.length), { at: Infinity, names: appList(e) }]);
  }

  async register(id: string, secretHash: string): Promise<Registration> {
    const value = JSON.stringify({ secretHash, createdAt: new Date().toISOString() });
    try {
      // Create only if absent: two nodes registering one id at once cannot both win.
      await this.registrations.create(id, value);
      this.hashes.set(id, secretHash);
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
    // An id the caught-up watch did not bring is not registered, unless it was registered on
    // another node a moment ago: read, but only MISS_READS a second, so that junk to made-up
    // ids cannot turn each request into a NATS read.
    if (this.hashes.absent(id) && !this.missReads.take('')) return undefined;
    const hash = secretHashOf(await this.registrations.get(id));
    if (hash !== undefined) this.hashes.set(id, hash);
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
    if (!ack.duplicate) remember(this.seqs, stored.id, { seq: ack.seq, parked: false });
    // What this node stored shows in its next health answer.
    this.totaled = undefined;
    return stored.id;
  }

  async pending(instance: string, limit = Infinity, app?: string): Promise<WaitingDelivery[]> {
    // The shard first, then the parked stream: a webhook the keeper moves meanwhile was copied
    // before it left the shard, so it is seen in one or both (keeper.ts). Parked ones are the
    // older, so they come first.
    const hot = await this.readWaiting(this.layout.streamOf(instance), this.layout.hooks(instance, app), false, limit);
    const parked = await this.readWaiting(this.layout.parkedStream, this.layout.parked(instance, app), true, limit);
    const moved = new Set(parked.map((w) => w.id));
    return [...parked, ...hot.filter((w) => !moved.has(w.id))].slice(0, limit);
  }

  private async readWaiting(stream: string, filter: string, parked: boolean, limit: number): Promise<WaitingDelivery[]> {
    const out: WaitingDelivery[] = [];
    for (let seq = 0; out.length < limit; ) {
      const m = await messageAt(this.jsm, stream, seq, { filter });
      if (!m) break;
      const { id, app, at } = decodeMeta(m.data);
      remember(this.seqs, id, { seq: m.seq, parked });
      out.push({ id, app, at });
      seq = m.seq + 1;
    }
    return out;
  }

  /**
   * Runs `fn` on where the webhook is; when it is gone from the shard (the keeper moved it to
   * the parked stream meanwhile: keeper.ts), looks again and runs it on the copy.
   */
  private async atPlace<T>(instance: string, id: string, fn: (place: Place) => Promise<T | undefined>): Promise<T | undefined> {
    // Not seen by this node: look through the instance's waiting webhooks (rare).
    if (!this.seqs.has(id)) await this.pending(instance);
    const place = this.seqs.get(id);
    if (place === undefined) return undefined;
    const done = await fn(place);
    if (done !== undefined || place.parked) return done;
    await this.pending(instance);
    const moved = this.seqs.get(id);
    return moved?.parked ? fn(moved) : undefined;
  }

  read(instance: string, id: string): Promise<StoredDelivery | undefined> {
    return this.atPlace(instance, id, async (place) => {
      const m = await messageAt(this.jsm, this.layout.streamOf(instance, place.parked), place.seq);
      if (!m) return undefined;
      const d = decodeDelivery(m.data);
      return d.id === id ? d : undefined;
    });
  }

  async settle(instance: string, id: string, _how: Settled): Promise<boolean> {
    const done = await this.atPlace(instance, id, async (place) => {
      if (!place.parked) {
        // Noted before the delete: a keeper that copied it meanwhile deletes the copy (keeper.ts).
        const d = this.dropped.get(instance) ?? [];
        if (d.length === 0) this.dropped.set(instance, d);
        d.push({ seq: place.seq, at: Date.now() });
      }
      // False: settled already, here or by another node (or moved: looked for again).
      return (await deleteAt(this.jsm, this.layout.streamOf(instance, place.parked), place.seq, 30_000)) || undefined;
    });
    this.seqs.delete(id);
    return done === true;
  }

  async counts(instance: string): Promise<WaitingCounts> {
    const counted = await this.countSubjects(this.layout.streamOf(instance), this.layout.hooks(instance), this.layout.parked(instance));
    return counted.get(instance) ?? { waiting: 0, bytes: 0, apps: {} };
  }

  groupOf(instance: string): string {
    return this.layout.streamOf(instance);
  }

  countGroup(stream: string): Promise<Map<string, WaitingCounts>> {
    return this.countSubjects(stream, this.layout.shardHooks(stream), this.layout.shardParked(stream));
  }

  /** Per-subject counts of the shard and of the parked stream, through the filters. */
  private async countSubjects(stream: string, hooks: string, parked: string): Promise<Map<string, WaitingCounts>> {
    const [a, b] = await Promise.all([this.jsm.streams.info(stream, { subjects_filter: hooks }), this.jsm.streams.info(this.layout.parkedStream, { subjects_filter: parked })]);
    return this.tally({ ...a.state.subjects, ...b.state.subjects });
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
    // Every balancer checks every node's health each second: one answer is shared for a
    // second (until this node stores a webhook), and all shards are counted by one listing
    // (a request per shard cost NATS as much CPU as the webhooks of a quiet cluster).
    if (this.totaled && Date.now() - this.totaled.at < TOTALS_MS) return Promise.resolve(this.totaled.value);
    this.totaling ??= (async () => {
      try {
        const [status, sizes] = await Promise.all([this.registrations.status(), this.shardSizes()]);
        const value = { instances: status.values, waiting: [...sizes.values()].reduce((n, m) => n + m, 0) };
        this.totaled = { at: Date.now(), value };
        return value;
      } finally {
        this.totaling = undefined;
      }
    })();
    return this.totaling;
  }

  /** Messages in every shard's stream and the parked one, from one listing. */
  private async shardSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for await (const i of this.jsm.streams.list(`${this.layout.prefix}.*.>`)) sizes.set(i.config.name, i.state.messages);
    return sizes;
  }

  async apps(instance: string): Promise<ReadonlySet<string> | undefined> {
    const known = this.appLists.get(instance);
    // A missed note (a node cut off for a moment) is made good within this; what the watch
    // brought is kept (`at` Infinity), the watch brings its changes.
    if (known && Date.now() - known.at < APPS_TTL_MS) return known.names;
    // Once the watch has brought every list, an instance it did not bring has none: a read
    // per instance per node would cost more than the webhook (many instances never set one).
    if (this.appLists.absent(instance)) return undefined;
    const names = appList(await this.links.get(`apps.${instance}`));
    this.appLists.set(instance, { at: Date.now(), names });
    return names;
  }

  async setApps(instance: string, names: string[]): Promise<void> {
    const cur = await this.apps(instance);
    if (cur && cur.size === names.length && names.every((n) => cur.has(n))) return;
    await persist(() => this.links.put(`apps.${instance}`, JSON.stringify(names)), 15_000);
    this.appLists.set(instance, { at: Date.now(), names: new Set(names) });
    this.nc.publish(this.layout.appsNote, JSON.stringify({ i: instance, n: this.o.node, a: names }));
  }

  async instances(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.registrations.keys()) out.push(k);
    return out;
  }

  async feed(instance: string, to: FeedTarget, window: number, waiting: number): Promise<DeliveryFeed> {
    const f = new NatsFeed({ js: this.js, jsm: this.jsm, layout: this.layout, waiting }, instance, to, window);
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
    // No round starts from here; the one under way ends before the connection does.
    const keeping = this.keeper.close();
    for (const f of [...this.feeds.values()]) await f.close();
    await keeping;
    await Promise.all(this.taps.map((t) => t.close()));
    this.claims.close();
    this.nodes.close();
    this.appsSub.unsubscribe();
    this.hashes.stop();
    this.appLists.stop();
    this.parkedSub.unsubscribe();
    this.verdicts.stop();
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/** An app list as stored; undefined when never said (or unreadable: as if never said). */
function appList(e: KvEntry | null): ReadonlySet<string> | undefined {
  if (!e || e.operation !== 'PUT') return undefined;
  try {
    const v = e.json<unknown>();
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? new Set(v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** A registration's secret hash; undefined when there is none (or it does not read as one). */
function secretHashOf(e: KvEntry | null): string | undefined {
  if (!e || e.operation !== 'PUT') return undefined;
  try {
    const hash = e.json<{ secretHash: unknown }>().secretHash;
    return typeof hash === 'string' ? hash : undefined;
  } catch {
    return undefined;
  }
}
