// What removing acked webhooks costs NATS, on a 3-server nats-server cluster (R=3, file
// storage, as the relay's shards): a delete per webhook, one purge of the whole stream up to
// a sequence (no filter), and a purge of one subject among many. NATS CPU from /proc,
// rounds of fresh streams. This measures the design choice in docs/relay.md ("What an ack
// costs"): the relay deletes sparse acks one by one, and a shard-wide purge up to the
// lowest position still needed would cost a fraction of that per webhook.
// Run alone: `node dist/bench/nats-removal.js [webhooks per round] [rounds]`.
import { StorageType } from '@nats-io/jetstream';
import { measuredNats } from './nats-alone.js';
import { median } from './report.js';

const n = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);
/** Instances the webhooks are spread over (one subject each). */
const INSTANCES = 500;

const m = await measuredNats();
const { js, jsm } = m;
const nats = m.natsMs;
const out = { publish: [] as number[], delete: [] as number[], purgeTo: [] as number[], purgeOne: [] as number[] };
try {
  for (let r = 1; r <= rounds; r++) {
    const name = `removal${r}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`], num_replicas: 3, storage: StorageType.File });
    const body = new Uint8Array(2000);
    const publish = async () => {
      for (let i = 0; i < n; i++) await js.publish(`${name}.i${i % INSTANCES}.app`, body);
    };
    let t = nats();
    await publish();
    out.publish.push((nats() - t) / n);
    const first = (await jsm.streams.info(name)).state.first_seq;
    t = nats();
    for (let s = first; s < first + n; s++) await jsm.streams.deleteMessage(name, s, false);
    out.delete.push((nats() - t) / n);
    await publish();
    const from = (await jsm.streams.info(name)).state.first_seq;
    t = nats();
    await jsm.streams.purge(name, { seq: from + n });
    await new Promise((res) => setTimeout(res, 300)); // the replicas apply it too
    out.purgeTo.push((nats() - t) / n);
    await publish();
    t = nats();
    for (let i = 0; i < 20; i++) await jsm.streams.purge(name, { filter: `${name}.i${i}.app` });
    out.purgeOne.push((nats() - t) / 20);
    await jsm.streams.delete(name);
  }
  const f = (xs: number[]) => `${median(xs).toFixed(3)} ms (rounds ${xs.map((x) => x.toFixed(3)).join(', ')})`;
  console.log(`NATS CPU, 3 servers R=3, ${n} webhooks of 2 KB over ${INSTANCES} subjects, medians of ${rounds} rounds:`);
  console.log(`  publish, one at a time            ${f(out.publish)} per webhook`);
  console.log(`  delete, one per webhook           ${f(out.delete)} per webhook`);
  console.log(`  one purge up to a sequence        ${f(out.purgeTo)} per webhook removed`);
  console.log(`  purge of one subject among ${n}  ${f(out.purgeOne)} per purge`);
} finally {
  await m.stop();
}
