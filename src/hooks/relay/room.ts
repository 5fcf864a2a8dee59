// How much an instance's queue on the relay may hold, and what gives way when it is full.
// A deploy always takes the ref's tip, so the newest webhook is the one that matters: a
// full queue drops its oldest rather than refusing new ones. The app holding the most
// gives way first, so one app's flood cannot push out another app's deliveries. Written
// over the RelayStore interface, so every backend keeps the same policy.
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

/** Keeps each instance within the limits; one instance is trimmed by one caller at a time. */
export class Room {
  private trimming = new Map<string, Promise<unknown>>();

  constructor(
    private store: RelayStore,
    private limits: RoomLimits,
  ) {}

  /** After a webhook for `app` was stored: drops the oldest until the instance fits. Resolves with what was dropped. */
  fit(instance: string, app: string): Promise<Dropped[]> {
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
      if (victim === undefined) return dropped;
      const [oldest] = await this.store.pending(instance, 1, victim);
      if (!oldest) return dropped;
      const why = victim === app && c.apps[app].waiting > this.limits.maxPerApp ? `app over ${this.limits.maxPerApp} waiting` : 'instance full';
      // Another relay node may have dropped it first (a cluster): then look again.
      if (await this.store.settle(instance, oldest.id, 'dropped')) dropped.push({ ...oldest, why });
    }
  }
}
