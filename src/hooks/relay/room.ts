// How much an instance's queue on the relay may hold, and what gives way when it is full.
// A deploy always takes the ref's tip, so the newest webhook is the one that matters: a
// full queue drops its oldest rather than refusing new ones. The app holding the most
// gives way first, so one app's flood cannot push out another app's deliveries. Written
// over the RelayStore interface, so every backend keeps the same policy.
//
// Counting costs a request on a cluster, so it is not done for every webhook: after a count,
// each of the W processes writing to the store may take 1/W of the room left without
// counting again (a budget). Together they cannot pass a limit before one of them counts,
// so the limits hold across relay nodes as they do in one process.
import type { RelayStore, WaitingCounts, WaitingDelivery } from './store.js';

export interface RoomLimits {
  /** Waiting webhooks, and their bytes, per instance. */
  maxPending: number;
  maxBytes: number;
  /** Waiting webhooks per app of an instance. */
  maxPerApp: number;
}

/**
 * The app that must give up its oldest webhook for the instance to fit, or undefined
 * when it fits. `app` just grew: it gives way first when over its own cap or tied.
 */
export function overfull(c: WaitingCounts, app: string, limits: RoomLimits): string | undefined {
  if ((c.apps[app]?.waiting ?? 0) > limits.maxPerApp) return app;
  const by: 'waiting' | 'bytes' | undefined = c.waiting > limits.maxPending ? 'waiting' : c.bytes > limits.maxBytes ? 'bytes' : undefined;
  if (!by) return undefined;
  let top = app;
  for (const [name, n] of Object.entries(c.apps)) if (n[by] > (c.apps[top]?.[by] ?? 0)) top = name;
  return top;
}

export interface Dropped extends WaitingDelivery {
  why: string;
}

interface Budget {
  at: number;
  waiting: number;
  bytes: number;
  apps: Map<string, number>;
  /** The share of an app not in the count (nothing of it waiting then). */
  fresh: number;
}

/** A budget is trusted this long; acks only add room, so an old one errs on the safe side. */
const BUDGET_MS = 60_000;

/** Memo tables are cleared past this many instances (a node serving 100,000 keeps a few MB). */
const MEMO = 100_000;

/** One count of a whole group of instances (a NATS shard), from one request. */
interface GroupCount {
  /** When the request was sent: everything stored before then is in `counts`. */
  at: number;
  counts?: Map<string, WaitingCounts>;
  loading?: Promise<void>;
}

const NOTHING: WaitingCounts = { waiting: 0, bytes: 0, apps: {} };

/** How the limits are shared out between the processes writing to one store. */
export interface RoomShares {
  /** How many relay processes append to the store now (1 for a directory). */
  writers(): number;
  /**
   * For a store where a count is a request (a cluster): the group an instance is counted
   * with, and the counts of a whole group (instances with nothing waiting left out) from
   * one request, so the limits need not count each instance.
   */
  groups?: { of(instance: string): string; count(group: string): Promise<Map<string, WaitingCounts>> };
}

/** Keeps each instance within the limits; one instance is trimmed by one caller at a time. */
export class Room {
  private trimming = new Map<string, Promise<unknown>>();
  private budgets = new Map<string, Budget>();
  /** One per group of the store (a shard on a cluster): a few, never more. */
  private groups = new Map<string, GroupCount>();
  /** Instance -> when this process last took a webhook for it; `forgotAt` when the table was last cleared. */
  private took = new Map<string, number>();
  private forgotAt = 0;

  constructor(
    private store: RelayStore,
    private limits: RoomLimits,
    private shares: RoomShares = { writers: () => 1 },
  ) {}

  /**
   * After a webhook for `app` (`bytes` long) was stored: drops the oldest until the instance
   * fits. Resolves with what was dropped.
   */
  fit(instance: string, app: string, bytes = 0): Promise<Dropped[]> {
    // What the store may count for it: a backend rounds sizes up (at most 2x) and adds its own.
    const cost = 2 * (bytes + 1024);
    if (this.spend(instance, app, cost)) return Promise.resolve([]);
    this.budgets.delete(instance);
    return this.fromGroup(instance, app, cost).then((ok) => (ok ? [] : this.trimInTurn(instance, app)));
  }

  /** Takes one webhook out of the instance's budget, if it has room for it. */
  private spend(instance: string, app: string, cost: number): boolean {
    const b = this.budgets.get(instance);
    if (!b || Date.now() - b.at >= BUDGET_MS) return false;
    // An app the count did not show had nothing waiting then: a whole share.
    const left = b.apps.get(app) ?? b.fresh;
    if (left <= 0 || b.waiting <= 0 || b.bytes < cost) return false;
    b.apps.set(app, left - 1);
    b.waiting--;
    b.bytes -= cost;
    this.tookOne(instance);
    return true;
  }

  private tookOne(instance: string): void {
    if (this.took.size >= MEMO) {
      this.took.clear();
      this.forgotAt = Date.now();
    }
    this.took.set(instance, Date.now());
  }

  /**
   * A budget from the count of the instance's whole group, when the store counts groups
   * (a cluster: one request per shard instead of one per instance). Only for an instance
   * this process took nothing for since that count was asked for: what it took since is in
   * no count, and a budget from an older count may still be spending it.
   */
  private async fromGroup(instance: string, app: string, cost: number): Promise<boolean> {
    const { groups } = this.shares;
    if (!groups) return false;
    const key = groups.of(instance);
    let g = this.groups.get(key);
    // Asked again when old, or when the last request failed.
    if (!g || (!g.loading && (!g.counts || Date.now() - g.at >= BUDGET_MS))) {
      const fresh: GroupCount = { at: Date.now() };
      fresh.loading = groups
        .count(key)
        .then((counts) => void (fresh.counts = counts))
        .finally(() => (fresh.loading = undefined));
      this.groups.set(key, (g = fresh));
    }
    try {
      await g.loading;
    } catch {
      return false; // counted one by one instead
    }
    const last = this.took.get(instance) ?? this.forgotAt;
    if (!g.counts || last >= g.at || this.budgets.has(instance)) return this.spend(instance, app, cost);
    this.budget(instance, g.counts.get(instance) ?? NOTHING, g.at);
    return this.spend(instance, app, cost);
  }

  private trimInTurn(instance: string, app: string): Promise<Dropped[]> {
    const run = (this.trimming.get(instance) ?? Promise.resolve()).then(() => this.trim(instance, app));
    const tail = run.catch(() => {});
    this.trimming.set(instance, tail);
    void tail.then(() => {
      if (this.trimming.get(instance) === tail) this.trimming.delete(instance);
    });
    return run;
  }

  private async trim(instance: string, app: string): Promise<Dropped[]> {
    const dropped: Dropped[] = [];
    for (;;) {
      const c = await this.store.counts(instance);
      const victim = overfull(c, app, this.limits);
      if (victim === undefined) {
        this.budget(instance, c, Date.now());
        this.tookOne(instance);
        return dropped;
      }
      const [oldest] = await this.store.pending(instance, 1, victim);
      if (!oldest) return dropped;
      const why = victim === app && c.apps[app].waiting > this.limits.maxPerApp ? `app over ${this.limits.maxPerApp} waiting` : 'instance full';
      // Another relay node may have dropped it first (a cluster): then look again.
      if (await this.store.settle(instance, oldest.id, 'dropped')) dropped.push({ ...oldest, why });
    }
  }

  /** This process's share of the room `c` leaves. */
  private budget(instance: string, c: WaitingCounts, at: number): void {
    const w = Math.max(1, this.shares.writers());
    const share = (room: number) => Math.max(0, Math.floor(room / w));
    const apps = new Map<string, number>();
    for (const [name, a] of Object.entries(c.apps)) apps.set(name, share(this.limits.maxPerApp - a.waiting));
    if (this.budgets.size >= MEMO) this.budgets.clear();
    this.budgets.set(instance, { at, waiting: share(this.limits.maxPending - c.waiting), bytes: share(this.limits.maxBytes - c.bytes), apps, fresh: share(this.limits.maxPerApp) });
  }
}
