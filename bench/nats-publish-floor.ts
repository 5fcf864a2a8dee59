// What a bare R=3 publish costs NATS at the rate the relay cluster bench reaches: the floor
// under the relay's NATS CPU per webhook (each webhook is one publish). 3 nats-server, 16
// streams, 16 publishes in flight, paced to a rate, then as fast as they go (where raft
// batches proposals). NATS CPU from /proc. Run alone:
// `node dist/bench/nats-publish-floor.js [rate/s] [publishes] [rounds]`.
import { measuredNats } from './nats-alone.js';
import { publishFloor } from './publish-floor.js';

const rate = Number(process.argv[2] ?? 800);
const n = Number(process.argv[3] ?? 8000);
const rounds = Number(process.argv[4] ?? 2);

const m = await measuredNats();
try {
  const runs = [...Array.from({ length: rounds }, () => rate), 0];
  for (const [r, pace] of runs.entries()) {
    // The size of a small push payload with its headers.
    const f = await publishFloor(m.js, m.jsm, m.natsMs, { rate: pace, n, bytes: 1500, prefix: `floor${r}` });
    console.log(`${pace ? `paced to ${pace}/s` : 'as fast as they go'}: ${n} publishes at ${f.perSec}/s, NATS CPU ${f.ms.toFixed(3)} ms each`);
  }
} finally {
  await m.stop();
}
