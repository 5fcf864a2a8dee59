// What bare R=3 publishes cost the NATS servers: streams of their own (no consumer), `n`
// publishes of `bytes` each with a message id, `inFlight` at a time, paced to `rate` a second
// (0: as fast as they go, where raft batches them). The floor under a relay webhook's NATS
// CPU (each webhook is one such publish), measured in the same minute as the webhooks.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

export interface FloorOptions {
  rate: number;
  n: number;
  bytes: number;
  streams?: number;
  inFlight?: number;
  /** Names the streams (`<prefix><k>`) and their subjects; different per round. */
  prefix: string;
}

/** NATS CPU ms per publish, and the rate reached. */
export async function publishFloor(js: JetStreamClient, jsm: JetStreamManager, natsMs: () => number, o: FloorOptions): Promise<{ ms: number; perSec: number }> {
  const streams = o.streams ?? 16;
  for (let k = 0; k < streams; k++) await jsm.streams.add({ name: `${o.prefix}${k}`, subjects: [`${o.prefix}.${k}.>`], num_replicas: 3 });
  try {
    const body = new Uint8Array(o.bytes);
    const t0 = natsMs();
    const start = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: o.inFlight ?? 16 }, async () => {
        while (next < o.n) {
          const k = next++;
          const wait = o.rate ? start + (k * 1000) / o.rate - Date.now() : 0;
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
          await js.publish(`${o.prefix}.${k % streams}.i${k % 3000}.app.0`, body, { msgID: `${o.prefix}-${k}` });
        }
      }),
    );
    const secs = (Date.now() - start) / 1000;
    // The followers' last appends land after the last ack.
    await new Promise((res) => setTimeout(res, 500));
    return { ms: (natsMs() - t0) / o.n, perSec: Math.round(o.n / secs) };
  } finally {
    for (let k = 0; k < streams; k++) await jsm.streams.delete(`${o.prefix}${k}`).catch(() => {});
  }
}
