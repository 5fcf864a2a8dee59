// The public relay as a cluster of real processes: 3 nats-server nodes (JetStream, R=3),
// 3 stateless relay nodes and HAProxy in front, on loopback. Webhooks are posted through
// the balancer while instances hold links through it; relay nodes and NATS nodes are
// killed -9 or restarted under that load. Each test ends with every webhook that got a 202
// delivered to its instance, queued there once, and nothing left waiting in the stream.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsLayout } from '../../../../src/hooks/relay/nats/layout.js';
import { fakeInstance, type FakeInstance } from '../../../fixtures/fake-instance.js';
import { post, standard } from '../../../fixtures/hooks.js';
import { startRelayCluster, type RelayCluster } from '../../../fixtures/relay-cluster.js';

async function cluster(t: TestContext, args: string[] = []): Promise<RelayCluster> {
  // Dead links and vanished consumers are noticed within a few seconds, not a minute.
  const c = await startRelayCluster({ args: ['--heartbeat', '1', ...args] });
  t.after(() => c.stop());
  return c;
}

async function register(url: string): Promise<{ id: string; secret: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const r = await fetch(`${url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash: createHash('sha256').update(secret).digest('hex') }) });
  assert.equal(r.status, 201, await r.text());
  return { id, secret };
}

async function until(ok: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waiting(url: string): Promise<number> {
  try {
    const r = await fetch(`${url}/health`);
    return r.status === 200 ? (((await r.json()) as { pending?: number }).pending ?? -1) : -1;
  } catch {
    return -1;
  }
}

/** `n` registered instances, each linked through the balancer and reconnecting through it. */
async function linked(t: TestContext, c: RelayCluster, n: number): Promise<FakeInstance[]> {
  const instances: FakeInstance[] = [];
  t.after(() => instances.forEach((i) => i.close()));
  for (let k = 0; k < n; k++) {
    const { id, secret } = await register(c.url);
    instances.push(fakeInstance(c.url, id, secret));
  }
  await Promise.all(instances.map((i) => i.opened()));
  return instances;
}

/**
 * Posts signed webhooks through the balancer to the instances, 6 at a time, until `stop`
 * is called; what got a 202 is recorded per instance. Failures during a kill are expected
 * (no 202: the sender would retry), so they are only counted.
 */
function senders(url: string, instances: FakeInstance[]) {
  const accepted = new Map<string, string>();
  const refused = new Map<number | string, number>();
  let stopped = false;
  let n = 0;
  const done = Promise.all(
    Array.from({ length: 6 }, async () => {
      while (!stopped) {
        const inst = instances[n++ % instances.length];
        try {
          const res = await post(url, `/hooks/${inst.id}/app${n % 3}`, standard('whsec_' + Buffer.alloc(24, 7).toString('base64'), { type: 'save', ref: 'refs/heads/main', n }));
          if (res.status === 202) accepted.set(res.body.id, inst.id);
          else refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
        } catch (err) {
          const k = (err as NodeJS.ErrnoException).code ?? 'error';
          refused.set(k, (refused.get(k) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }),
  );
  return {
    accepted,
    refused,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Every 202 reached its own instance, queued once there, and the stream holds nothing more. */
async function everyAcceptedDeliveredOnce(t: TestContext, c: RelayCluster, instances: FakeInstance[], s: ReturnType<typeof senders>): Promise<void> {
  const { accepted } = s;
  const t0 = Date.now();
  const byId = new Map(instances.map((i) => [i.id, i]));
  const missing = () => [...accepted].filter(([id, inst]) => !byId.get(inst)!.queued.includes(id));
  await until(() => missing().length === 0, `${accepted.size} accepted webhooks to reach their instances (missing ${missing().length})`, 90_000);
  const t1 = Date.now();
  await until(async () => (await waiting(c.url)) === 0, 'the stream to be empty');
  if (process.env.RELAY_CLUSTER_DEBUG) {
    const tally = new Map<string, number>();
    for (const r of c.relays) for (const e of r.events()) if (!['accepted', 'acked'].includes(e.event)) { const k = `${e.event} ${e.status ?? ''} ${String(e.reason ?? '').slice(0, 90)}`; tally.set(k, (tally.get(k) ?? 0) + 1); }
    t.diagnostic(JSON.stringify([...tally]));
    const times = c.relays.flatMap((r, i) => r.events().filter((e) => !['accepted', 'acked', 'connected', 'registered', 'listening'].includes(e.event)).map((e) => `${e.at.slice(14, 23)} r${i + 1} ${e.event} ${e.instance ?? ''} ${String(e.reason ?? '').slice(0, 60)}`));
    t.diagnostic(times.sort().join('\n'));
  }
  t.diagnostic(`accepted ${accepted.size}, not accepted ${JSON.stringify(Object.fromEntries(s.refused))}, resent to an instance ${instances.reduce((n, i) => n + i.duplicates, 0)}; delivered ${t1 - t0} ms after the senders stopped, stream empty ${Date.now() - t1} ms later`);
  for (const i of instances) {
    assert.equal(new Set(i.queued).size, i.queued.length, 'a webhook was queued twice');
    // Nothing arrives that was not sent to this instance.
    for (const id of i.queued) if (accepted.has(id)) assert.equal(accepted.get(id), i.id);
  }
}

test('webhooks posted through the balancer reach an instance linked to another node; a newer link on another node replaces the older', async (t) => {
  const c = await cluster(t);
  const { id, secret } = await register(c.url);
  // Linked to node 1 directly; posts go through the balancer to all three.
  const direct = (i: number) => `http://127.0.0.1:${c.ports[i]}`;
  const first = fakeInstance(direct(0), id, secret, { reconnect: false });
  t.after(() => first.close());
  await first.opened();
  const sent: string[] = [];
  for (let k = 0; k < 30; k++) {
    const res = await post(c.url, `/hooks/${id}/shop`, standard('whsec_' + Buffer.alloc(24, 3).toString('base64'), { type: 'save', ref: 'refs/heads/main', k }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    sent.push(res.body.id);
  }
  const takers = c.relays.map((r) => r.events().filter((e) => e.event === 'accepted').length);
  assert.ok(takers.filter((n) => n > 0).length >= 2, `webhooks were taken by one node only: ${takers}`);
  await until(() => first.queued.length === 30, 'the first 30 on the first link');
  assert.deepEqual(first.queued, sent, 'delivered in the order accepted');

  // A second link for the same instance, on node 3: the one on node 1 is closed with 4001.
  // The same instance: it remembers what it queued (acked webhooks are purged within about
  // two seconds, so the new link may be sent some of the first 30 again).
  const second = fakeInstance(direct(2), id, secret, { reconnect: false, seen: new Set(first.queued) });
  t.after(() => second.close());
  await second.opened();
  await until(() => first.closes.length === 1, 'the older link to close');
  assert.equal(first.closes[0], 4001);
  await c.relays[0].waitFor((e) => e.event === 'replaced' && e.instance === id, 'node 1 to log the replacement');
  for (let k = 0; k < 10; k++) {
    const res = await post(c.url, `/hooks/${id}/shop`, standard('whsec_x', { type: 'save', k }));
    assert.equal(res.status, 202);
    sent.push(res.body.id);
  }
  await until(() => second.queued.length === 10, 'the next 10 on the newer link');
  assert.deepEqual(second.queued, sent.slice(30));
  await until(async () => (await waiting(c.url)) === 0, 'the stream to be empty');
  assert.equal((await (await fetch(`${c.url}/health`)).json()).instances, 1);
  // The NATS password came from the environment: not in any relay's log or command line.
  for (const r of c.relays) {
    assert.ok(!r.out().includes(c.nats.env.TOES_RELAY_NATS_PASSWORD) && !r.err().includes(c.nats.env.TOES_RELAY_NATS_PASSWORD));
    assert.ok(!(r.child.spawnargs ?? []).join(' ').includes(c.nats.env.TOES_RELAY_NATS_PASSWORD));
  }
});

test('kill -9 of the relay node holding a link, mid-stream: the instance reconnects through the balancer and gets everything', async (t) => {
  const c = await cluster(t);
  const instances = await linked(t, c, 4);
  const s = senders(c.url, instances);
  await until(() => s.accepted.size >= 300, '300 accepted');
  let victim: number | undefined;
  await until(() => (victim = c.holder(instances[0].id)) !== undefined, 'the node holding the first link');
  await c.kill9(victim!);
  const before = s.accepted.size;
  await until(() => s.accepted.size >= before + 300 && instances[0].links >= 2, 'the link back and 300 more accepted');
  await s.stop();
  assert.notEqual(c.holder(instances[0].id), victim);
  await everyAcceptedDeliveredOnce(t, c, instances, s);
  await c.start(victim!);
});

test('kill -9 of one NATS node, the stream leader, mid-stream: nothing accepted is lost', async (t) => {
  const c = await cluster(t);
  const instances = await linked(t, c, 4);
  const s = senders(c.url, instances);
  await until(() => s.accepted.size >= 300, '300 accepted');
  const nc = await connect({ servers: c.nats.urls.split(','), user: c.nats.env.TOES_RELAY_NATS_USER, pass: c.nats.env.TOES_RELAY_NATS_PASSWORD });
  const leader = (await (await jetstreamManager(nc)).streams.info(new NatsLayout('toes_relay').streamOf(instances[0].id))).cluster?.leader;
  await nc.close();
  const victim = c.nats.nodes.findIndex((n) => n.name === leader);
  assert.ok(victim >= 0, `no stream leader among ${c.nats.nodes.map((n) => n.name)}: ${leader}`);
  await c.nats.kill9(victim);
  const before = s.accepted.size;
  const killed = Date.now();
  await until(() => s.accepted.size >= before + 300, '300 more accepted with a NATS node down', 90_000);
  t.diagnostic(`300 more accepted ${Date.now() - killed} ms after the kill`);
  await s.stop();
  await everyAcceptedDeliveredOnce(t, c, instances, s);
  await c.nats.start(victim);
});

test('a rolling restart of every relay node under load: every webhook accepted is delivered', async (t) => {
  const c = await cluster(t);
  const instances = await linked(t, c, 6);
  const s = senders(c.url, instances);
  for (let i = 0; i < c.relays.length; i++) {
    const before = s.accepted.size;
    await until(() => s.accepted.size >= before + 150, `150 more accepted before restarting node ${i + 1}`);
    assert.equal((await c.relays[i].stop()).code, 0);
    await c.start(i);
    await until(() => instances.every((x) => x.connected()), 'every instance linked again');
  }
  const before = s.accepted.size;
  await until(() => s.accepted.size >= before + 150, '150 more after the last restart');
  await s.stop();
  await everyAcceptedDeliveredOnce(t, c, instances, s);
  // Links moved as nodes went away: each instance linked more than once, none lost anything.
  assert.ok(instances.some((i) => i.links > 1));
});
