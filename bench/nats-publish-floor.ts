// What a bare R=3 publish costs NATS at the rate the relay cluster bench reaches: the floor
// under the relay's NATS CPU per webhook (each webhook is one publish). 3 nats-server, 16
// streams, 16 publishes in flight, paced to a rate, then as fast as they go (where raft
// batches proposals). NATS CPU from /proc. Run alone:
// `node dist/bench/nats-publish-floor.js [rate/s] [publishes] [rounds]`.
import { measuredNats } from './nats-alone.js';

const rate = Number(process.argv[2] ?? 800);
const n = Number(process.argv[3] ?? 8000);
const rounds = Number(process.argv[4] ?? 2);
const STREAMS = 16;

const m = await measuredNats();
const { js, jsm } = m;
const nats = m.natsMs;
try {
  for (let k = 0; k < STREAMS; k++) await jsm.streams.add({ name: `floor${k}`, subjects: [`floor.${k}.>`], num_replicas: 3 });
  // The size of a small push payload with its headers.
  const body = new Uint8Array(1500);
  const runs = [...Array.from({ length: rounds }, () => rate), 0];
  for (const [r, pace] of runs.entries()) {
    const t0 = nats();
    const start = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          const k = next++;
          const wait = pace ? start + (k * 1000) / pace - Date.now() : 0;
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
          await js.publish(`floor.${k % STREAMS}.i${k % 3000}.app.0`, body, { msgID: `r${r}-${k}` });
        }
      }),
    );
    const secs = (Date.now() - start) / 1000;
    await new Promise((res) => setTimeout(res, 500));
    console.log(`${pace ? `paced to ${pace}/s` : 'as fast as they go'}: ${n} publishes at ${Math.round(n / secs)}/s, NATS CPU ${((nats() - t0) / n).toFixed(3)} ms each`);
  }
} finally {
  await m.stop();
}
