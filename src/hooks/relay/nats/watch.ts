// A KV watch that stays up: every value the bucket holds, then every change, handed to
// `seen`; made again (from the next revision) if the client ends it. Relay nodes use it so
// that a webhook for an instance the node has not seen before costs no read: registrations
// and app lists are already here (store.ts).
import { KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';

export interface KvFollower {
  stop(): void;
}

export function followKv(kv: KV, key: string, seen: (e: KvEntry) => void): KvFollower {
  let stopped = false;
  let stop = () => {};
  let next = 0;
  void (async () => {
    for (let wait = 250; !stopped; wait = Math.min(4_000, wait * 2)) {
      try {
        const w = await kv.watch({ key, ...(next > 0 ? { resumeFromRevision: next } : { include: KvWatchInclude.LastValue }) });
        stop = () => w.stop();
        if (stopped) w.stop();
        for await (const e of w) {
          next = e.revision + 1;
          wait = 250;
          seen(e);
        }
      } catch {
        // made again below
      }
      if (!stopped) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop() {
      stopped = true;
      stop();
    },
  };
}
