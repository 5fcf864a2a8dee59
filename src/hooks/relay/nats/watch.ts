// A KV watch that stays up: every value the bucket holds, then every change, handed to
// `seen`; made again (from the next revision) if the client ends it. Relay nodes use it so
// that a webhook for an instance the node has not seen before costs no read: registrations
// and app lists are already here (store.ts).
import { KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';

export interface KvFollower {
  /**
   * True once every value the bucket held when the watch began has been handed over: from
   * then on, a key the watch has not brought is not in the bucket (give or take the moment a
   * change takes to arrive), so a miss needs no read.
   */
  readonly caughtUp: boolean;
  stop(): void;
}

export function followKv(kv: KV, key: string, seen: (e: KvEntry) => void): KvFollower {
  let stopped = false;
  let stop = () => {};
  let next = 0;
  let caughtUp = false;
  void (async () => {
    for (let wait = 250; !stopped; wait = Math.min(4_000, wait * 2)) {
      try {
        const w = await kv.watch({ key, ...(next > 0 ? { resumeFromRevision: next } : { include: KvWatchInclude.LastValue }) });
        stop = () => w.stop();
        if (stopped) w.stop();
        if (!caughtUp && (await initialCount(w)) === 0) caughtUp = true;
        for await (const e of w) {
          next = e.revision + 1;
          wait = 250;
          seen(e);
          // The watch marks the last of the values it began with as the first update.
          if (e.isUpdate) caughtUp = true;
        }
      } catch {
        // made again below
      }
      if (!stopped) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    get caughtUp() {
      return caughtUp;
    },
    stop() {
      stopped = true;
      stop();
    },
  };
}

/**
 * How many values a new watch has to hand over before its updates: the count the watch's
 * consumer was made with (kept by the client, no request). -1 when the client does not show
 * it (then only the first update says the watch caught up).
 */
async function initialCount(w: unknown): Promise<number> {
  const consumer = (w as { _data?: { info?: (cached: boolean) => Promise<{ num_pending?: number }> } })._data;
  if (typeof consumer?.info !== 'function') return -1;
  try {
    return (await consumer.info(true)).num_pending ?? -1;
  } catch {
    return -1;
  }
}

/**
 * What a followed bucket holds, kept here (bounded: past `max` entries it is cleared, and a
 * miss then proves nothing). `absent` says whether a key missing here is missing from the
 * bucket too: the watch has caught up and nothing was forgotten since.
 */
export class Followed<V> {
  private m = new Map<string, V>();
  private forgotten = false;
  private follower?: KvFollower;

  constructor(private max: number) {}

  /** Fills the table from the bucket's `key` filter, and keeps it so; `entry` maps a value to what is kept (undefined: nothing). */
  follow(kv: KV, key: string, entry: (e: KvEntry) => [string, V] | undefined): void {
    this.follower = followKv(kv, key, (e) => {
      const kept = entry(e);
      if (kept) this.set(...kept);
    });
  }

  stop(): void {
    this.follower?.stop();
  }

  get(k: string): V | undefined {
    return this.m.get(k);
  }

  set(k: string, v: V): void {
    if (this.m.size >= this.max) {
      this.m.clear();
      this.forgotten = true;
    }
    this.m.set(k, v);
  }

  delete(k: string): void {
    this.m.delete(k);
  }

  absent(k: string): boolean {
    return !this.m.has(k) && !this.forgotten && this.follower?.caughtUp === true;
  }
}
