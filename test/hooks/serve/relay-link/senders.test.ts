// What no sender can do to a relay, with `toes relay` and `toes serve` as real processes:
// junk from one address cannot take a real sender's place (the instance's verdicts budget
// each source), webhooks for apps the instance did not list are never stored, and a link
// that never reads is sent only what its socket drains.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { tmpDir } from '../../../fixtures/cli.js';
import { ensureStopped, github, post, standard, startDaemon, startRelay, type Daemon, type Delivery } from '../../../fixtures/hooks.js';
import { relayBackends, relayTest, type RelayBackend } from '../../relay/backends.js';
import { relayWorld } from './setup.js';

const JUNK_KEY = 'whsec_' + Buffer.alloc(24, 9).toString('base64');

/** The sample app deployed with its webhook enabled through a relay, and `toes serve` linked to it. */
async function linkedWorld(t: TestContext, relayArgs: string[], backend: RelayBackend = relayBackends[0]) {
  const { w, relay, env, hook, track } = await relayWorld(t, relayArgs, backend);
  const serve = track(await startDaemon(w.data, { env }));
  await relay.waitFor((e) => e.event === 'apps' && e.count === 1, 'the instance\'s app list');
  return { w, relay, serve, env, hook, path: new URL(hook.url).pathname };
}

const from = (d: Delivery, address: string): Delivery => ({ ...d, headers: { ...d.headers, 'x-forwarded-for': address } });

test('under a flood of wrongly signed posts from one address, real pushes from another address are all accepted and deployed', async (t) => {
  const { w, relay, serve, hook, path } = await linkedWorld(t, ['--trust-proxy']);
  const JUNK = '203.0.113.66';
  const REAL = '198.51.100.7';
  let flooding = true;
  const junkStatus: number[] = [];
  const junkAccepted: string[] = [];
  const flood = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (flooding) {
        const r = await post(relay.url, path, from(standard(JUNK_KEY, { type: 'save', ref: 'refs/heads/main' }), JUNK));
        junkStatus.push(r.status);
        if (r.status === 202) junkAccepted.push(r.body.id);
      }
    }),
  );
  t.after(() => ((flooding = false), flood));

  // The instance refuses what got through; past a few refusals the address is refused outright.
  await relay.waitFor((e) => e.event === 'refused' && e.from === JUNK && /refused too many/.test(e.reason), 'the junk address refused outright', 30_000);
  const ackedIds = () => new Set(relay.events().filter((e) => e.event === 'acked').map((e) => e.id));
  await relay.waitFor(() => junkAccepted.every((id) => ackedIds().has(id)), 'a verdict on every junk webhook that got through', 30_000);
  assert.ok(relay.events().filter((e) => e.event === 'acked' && junkAccepted.includes(e.id)).every((e) => e.verdict === 'refused' && e.from === JUNK));

  // The flood goes on; real pushes from elsewhere all get through.
  w.repo.commit({ VERSION: 'v2\n' });
  const real: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await post(relay.url, path, from(github(hook.secret, 'push', { ref: 'refs/heads/main' }), REAL));
    assert.equal(r.status, 202, `real push ${i}: ${JSON.stringify(r.body)}`);
    real.push(r.body.id);
  }
  await relay.waitFor(() => real.every((id) => ackedIds().has(id)), 'every real push acked', 30_000);
  const verdicts = relay.events().filter((e) => e.event === 'acked' && real.includes(e.id));
  assert.deepEqual(new Set(verdicts.map((e) => e.verdict)), new Set(['accepted']));
  const done = await serve.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy', 60_000);
  assert.equal(done.event, 'deployed');
  assert.equal(w.liveFile('VERSION'), 'v2\n');

  flooding = false;
  await flood;
  // Refused outright since: nothing more from the junk address got in.
  const after = relay.events().filter((e) => e.event === 'accepted' && e.from === JUNK).length;
  assert.equal(after, junkAccepted.length);
  assert.ok(junkStatus.filter((s) => s === 429).length > junkAccepted.length, `junk: ${junkAccepted.length} accepted, ${junkStatus.length} sent`);
});

relayTest('webhooks for apps the instance did not list get 404 and are never stored; a disabled app leaves the list, an enabled one joins it', async (t, backend) => {
  const { w, relay, env, hook, path } = await linkedWorld(t, [], backend);
  const instance = hook.relay.instance;
  const health = async () => (await fetch(`${relay.url}/health`)).json();
  const signed = () => standard(JUNK_KEY, { type: 'save', ref: 'refs/heads/main' });

  for (const name of ['nosuchapp', 'app0', 'sample2']) assert.equal((await post(relay.url, `/hooks/${instance}/${name}`, signed())).status, 404, name);
  const ok = await post(relay.url, path, github(hook.secret, 'push', { ref: 'refs/heads/main' }));
  assert.equal(ok.status, 202);
  await relay.waitFor((e) => e.event === 'acked' && e.id === ok.body.id, 'the real one delivered');

  assert.equal((await w.toes(['webhook', 'disable', 'sample'], { env })).code, 0);
  await relay.waitFor((e) => e.event === 'apps' && e.count === 0, 'the list without sample', 20_000);
  assert.equal((await post(relay.url, path, github(hook.secret, 'push', { ref: 'refs/heads/main' }))).status, 404);
  assert.equal((await w.toes(['webhook', 'enable', 'sample'], { env })).code, 0);
  await relay.waitFor(() => relay.events().filter((e) => e.event === 'apps' && e.count === 1).length === 2, 'sample listed again', 20_000);
  // A node other than the one holding the link (a cluster) may read the list a moment later.
  let again = 0;
  for (let i = 0; i < 100 && again !== 202; i++) {
    again = (await post(relay.url, path, github(hook.secret, 'push', { ref: 'refs/heads/main' }))).status;
    if (again !== 202) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(again, 202);

  // Nothing refused was stored: only the two real pushes were ever accepted.
  await relay.waitFor(() => relay.events().filter((e) => e.event === 'accepted').length >= 2, 'the second one logged');
  assert.equal(relay.events().filter((e) => e.event === 'accepted').length, 2);
  assert.ok(relay.events().filter((e) => e.event === 'accepted').every((e) => e.app === 'sample'));
  await relay.waitFor(() => relay.events().filter((e) => e.event === 'acked').length === 2, 'both acked');
  // A cluster removes acked webhooks within about two seconds (docs/relay.md).
  for (let i = 0; i < 60 && (await health()).pending !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await health()).pending, 0);

  // An instance that never said which apps it has (an old one): any name is taken, as before.
  const other = randomBytes(8).toString('hex');
  const reg = await fetch(`${relay.url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: other, secretHash: createHash('sha256').update('s').digest('hex') }) });
  assert.equal(reg.status, 201);
  assert.equal((await post(relay.url, `/hooks/${other}/anything`, signed())).status, 202);
});

test('a linked instance that reads nothing is sent only what its socket drains; everything accepted arrives once it reads', async (t) => {
  const dir = tmpDir('toes-relay-');
  let relay: Daemon | undefined;
  // The relay stopped before its directory goes (see linkedWorld).
  t.after(() => ensureStopped(relay));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  relay = await startRelay(dir, { args: ['--rate', '100000', '--address-rate', '100000', '--max-pending-bytes', String(512 * 1024 * 1024), '--heartbeat', '600'] });
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const reg = await fetch(`${relay.url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash: createHash('sha256').update(secret).digest('hex') }) });
  assert.equal(reg.status, 201);
  const link = (onFrame: (ws: WebSocket, f: any) => void) => {
    const ws = new WebSocket(`${relay!.url.replace(/^http/, 'ws')}/connect`, { headers: { authorization: `Bearer ${secret}`, 'x-toes-instance': id }, maxPayload: 4 * 1024 * 1024 });
    ws.on('message', (d) => onFrame(ws, JSON.parse(d.toString())));
    return new Promise<WebSocket>((resolve, reject) => (ws.once('open', () => resolve(ws)), ws.once('error', reject)));
  };

  // Reads nothing: its socket is paused from the start.
  const sleepy = await link(() => {});
  (sleepy as unknown as { _socket: { pause(): void } })._socket.pause();
  await relay.waitFor((e) => e.event === 'connected', 'the link');
  const N = 60;
  const big = standard(JUNK_KEY, { type: 'save', ref: 'refs/heads/main', pad: 'x'.repeat(900 * 1024) });
  const accepted: string[] = [];
  for (let i = 0; i < N; i++) {
    const r = await post(relay.url, `/hooks/${id}/app`, big);
    assert.equal(r.status, 202);
    accepted.push(r.body.id);
  }
  sleepy.terminate();
  const gone = await relay.waitFor((e) => e.event === 'disconnected', 'the sleepy link closed');
  // The window is 128: without read-ahead bounds all 60 would have been written to it.
  // What it was sent is what fits READ_AHEAD (3 MiB) and the kernel's socket buffers.
  assert.ok(gone.sent < N / 2, `sent ${gone.sent} of ${N} to a link that read nothing`);

  const got = new Set<string>();
  const reader = await link((ws, f) => {
    if (f.type !== 'delivery') return;
    got.add(f.id);
    ws.send(JSON.stringify({ type: 'ack', id: f.id }));
  });
  t.after(() => reader.close());
  await relay.waitFor(() => accepted.every((a) => got.has(a)), 'every accepted webhook delivered', 60_000);
  assert.equal(relay.events().filter((e) => e.event === 'dropped').length, 0);
});
