// Junk posted to a webhook URL, with the relay and `toes serve` as separate real
// processes: it cannot fill the relay's queue ahead of a real push, and what reaches the
// instance cannot push the real deliveries out of `toes webhook status`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { tmpDir } from '../../fixtures/cli.js';
import { ensureStopped, post, standard, startDaemon, startRelay, type Daemon } from '../../fixtures/hooks.js';
import { makeWorld } from '../../fixtures/world.js';
import { relayBackends } from '../relay/backends.js';
import { hookedWorld } from './hooked-world.js';

const push = { type: 'save', repo: 'me/sample', ref: 'refs/heads/main', timestamp: new Date().toISOString() };

test('40 junk posts to the relay, then a signed push: the junk is refused, the push is taken and delivered', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const relayDir = tmpDir('toes-relay-');
  const started: Daemon[] = [];
  t.after(() => Promise.all(started.map(ensureStopped)));
  t.after(() => fs.rmSync(relayDir, { recursive: true, force: true }));
  const relay = await startRelay(relayDir, { ...(await relayBackends[0].relay(relayDir)), args: ['--max-pending', '40'] });
  started.push(relay);
  const env = { REV_RELAY_URL: relay.url };
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  assert.equal((await w.toes(['config', 'set', 'sample', 'install', 'false'])).code, 0);
  const hook = (await w.toes(['webhook', 'enable', 'sample', '--json'], { env })).json();
  const path = new URL(hook.url).pathname;

  // The instance is offline: whatever the relay took would wait there, filling the queue.
  for (let i = 0; i < 40; i++) assert.equal((await post(relay.url, path, { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') })).status, 401);
  const real = await post(relay.url, path, standard(hook.secret, push));
  assert.equal(real.status, 202, JSON.stringify(real.body));

  const serve = await startDaemon(w.data, { env });
  started.push(serve);
  const acked = await relay.waitFor((e) => e.event === 'acked' && e.id === real.body.id, 'the push acked');
  assert.equal(acked.status, 202);
  await serve.waitFor((e) => e.event === 'queued' && e.via === 'relay', 'the push queued on the instance');
  assert.equal(relay.events().filter((e) => e.event === 'acked').length, 1);
  assert.equal((await serve.stop()).code, 0);
  assert.equal((await relay.stop()).code, 0);
});

test('a flood of refused deliveries leaves the real ones in `toes webhook status`', async (t) => {
  const { w, secret } = await hookedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const real = await post(d.url, '/hooks/sample', standard(secret, push));
  assert.equal(real.status, 202);
  // Enough junk to cut the delivery log back more than once (bad signatures, and none).
  const wrong = 'whsec_' + Buffer.alloc(24, 7).toString('base64');
  for (let i = 0; i < 800; i++) {
    const junk = i % 2 ? standard(wrong, push) : { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
    assert.equal((await post(d.url, '/hooks/sample', junk)).status, 401);
  }
  await d.waitFor(() => d!.events().filter((e) => e.event === 'refused').length === 800, 'the junk logged');
  assert.equal((await d.stop()).code, 0);

  const st = (await w.toes(['webhook', 'status', 'sample', '--json'])).json();
  const shown = st.deliveries.map((x: any) => x.outcome);
  assert.ok(st.deliveries.some((x: any) => x.id === real.body.id && x.outcome !== 'refused'), JSON.stringify(shown));
  assert.ok(shown.filter((o: string) => o === 'refused').length <= 3, JSON.stringify(shown));
  assert.ok(shown.includes('refused'), 'refused deliveries are still shown');
});
