// The relay and `toes serve` as separate real processes, with a real git server and real
// signed webhooks posted to the relay.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { ensureStopped, github, post, standard, startDaemon } from '../../../fixtures/hooks.js';
import { startProxy } from '../../../fixtures/proxy.js';
import { makeWorld } from '../../../fixtures/world.js';
import { layoutOf } from '../../layout.js';
import { relayBackends, relayTest } from '../../relay/backends.js';
import { relaySetup, relayWorld } from './setup.js';

const APPS = Array.from({ length: 10 }, (_, i) => `app${i}`);

relayTest('1,000 webhooks for 10 apps while the instance is offline: each acked once when it returns, each app on its newest commit', async (t, backend) => {
  const { w, relay, track } = await relaySetup(t, ['--rate', '100000', '--address-rate', '100000'], backend);
  const env = { REV_RELAY_URL: relay.url };

  const hooks: Record<string, { url: string; secret: string }> = {};
  for (const app of APPS) {
    const dep = await w.toes(['deploy', app, '--from', w.url, '--no-install']);
    assert.equal(dep.code, 0, dep.stderr);
    const en = await w.toes(['webhook', 'enable', app, '--json'], { env });
    assert.equal(en.code, 0, en.stderr);
    hooks[app] = en.json();
    assert.match(hooks[app].url, new RegExp(`^${relay.url}/hooks/[a-z0-9]+/${app}$`));
  }
  const newest = w.repo.commit({ VERSION: 'while-offline\n' });

  // The instance is offline: every webhook is stored by the relay.
  const paths = Object.fromEntries(APPS.map((a) => [a, new URL(hooks[a].url).pathname]));
  const accepted: string[] = [];
  let n = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (n < 1000) {
        const app = APPS[n++ % 10];
        const res = await post(relay.url, paths[app], standard(hooks[app].secret, { type: 'save', ref: 'refs/heads/main' }));
        assert.equal(res.status, 202, JSON.stringify(res.body));
        accepted.push(res.body.id);
      }
    }),
  );
  // A delivery the relay cannot make valid: signed with a wrong secret.
  const forged = await post(relay.url, paths.app0, standard('whsec_' + Buffer.alloc(24, 9).toString('base64'), { type: 'save', ref: 'refs/heads/main' }));
  assert.equal(forged.status, 202);
  assert.equal(accepted.length, 1000);

  const serve = track(await startDaemon(w.data, { env, args: ['--jobs', '2'] }));
  await relay.waitFor(() => relay.events().filter((e) => e.event === 'acked').length === 1001, '1,001 acks', 60_000);
  const acked = relay.events().filter((e) => e.event === 'acked');
  assert.equal(new Set(acked.map((e) => e.id)).size, 1001, 'a delivery was acked twice');
  assert.ok(accepted.every((id) => acked.some((e) => e.id === id)));
  assert.equal(acked.find((e) => e.id === forged.body.id).status, 401);
  // On the instance each arrived once: 1,000 queued, the forged one refused. (Its log
  // may trail the acks by a moment.)
  await serve.waitFor(() => serve.events().filter((e) => e.event === 'received' && e.from === 'relay').length >= 1001, 'the instance log');
  await new Promise((r) => setTimeout(r, 300));
  const viaRelay = serve.events().filter((e) => e.event === 'queued' && e.via === 'relay');
  assert.equal(viaRelay.length, 1000);
  assert.equal(serve.events().filter((e) => e.event === 'deduplicated').length, 0);
  assert.equal(serve.events().filter((e) => e.event === 'refused' && e.status === 401).length, 1);

  await serve.waitFor(() => {
    const ev = serve.events();
    const started = ev.filter((e) => e.event === 'deploying').length;
    const ended = ev.filter((e) => ['deployed', 'unchanged', 'failed'].includes(e.event)).length;
    return started >= 10 && started === ended;
  }, 'all deploys to end', 90_000);
  const ev = serve.events();
  assert.equal(ev.filter((e) => e.event === 'failed').length, 0, serve.out());
  for (const app of APPS) {
    assert.equal(w.liveFile('VERSION', app), 'while-offline\n', app);
    assert.equal(w.releaseLog(app).filter((r) => r.status === 'live').pop().commit, newest);
    // Coalesced: a handful of deploys per app, not a hundred.
    assert.ok(ev.filter((e) => e.event === 'deploying' && e.app === app).length <= 3, `${app}: ${ev.filter((e) => e.event === 'deploying' && e.app === app).length} deploys; first and last relay deliveries ${ev.filter((e) => e.event === 'received').map((e) => e.at).filter((x, i, a) => i === 0 || i === a.length - 1).join(' ')}`);
  }
  const st = (await w.toes(['webhook', 'status', 'app3', '--json'], { env })).json();
  assert.equal(st.relay.url, relay.url);
  await serve.waitFor(() => {
    try {
      return JSON.parse(fs.readFileSync(layoutOf(w.data).relayLinkFile, 'utf8')).connected === true;
    } catch {
      return false;
    }
  }, 'the link state file');
  const st2 = (await w.toes(['webhook', 'status', 'app3', '--json'], { env })).json();
  assert.equal(st2.relay.connected, true);
  assert.equal(st2.relay.pending, 0);
  for (const text of [serve.out(), serve.err(), relay.out()]) for (const app of APPS) assert.ok(!text.includes(hooks[app].secret));
  assert.equal((await serve.stop()).code, 0);
  assert.equal((await relay.stop()).code, 0);
});

test('a link that goes silent is noticed by the heartbeat and replaced; a relay restart loses nothing', async (t) => {
  const setup = await relaySetup(t, ['--heartbeat', '0.5']);
  const { w, track, startRelayAgain } = setup;
  let relay = setup.relay;
  const relayPort = Number(new URL(relay.url).port);
  const proxy = await startProxy(relayPort);
  t.after(() => proxy.close());
  const env = { REV_RELAY_URL: `http://127.0.0.1:${proxy.port}` };
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const hook = (await w.toes(['webhook', 'enable', 'sample', '--json'], { env })).json();
  const serve = track(await startDaemon(w.data, { env, args: ['--relay-heartbeat', '0.5'] }));
  await serve.waitFor((e) => e.event === 'relay-up', 'the link');

  proxy.freeze();
  const t0 = Date.now();
  await serve.waitFor((e) => e.event === 'relay-dead', 'the dead link noticed', 10_000);
  assert.ok(Date.now() - t0 < 5_000, `noticed after ${Date.now() - t0} ms with a 0.5 s heartbeat`);
  await serve.waitFor(() => serve.events().filter((e) => e.event === 'relay-up').length === 2, 'a new link', 10_000);

  // Through the new link: a push deploys.
  w.repo.commit({ VERSION: 'v2\n' });
  const path = new URL(hook.url).pathname;
  const res = await post(relay.url, path, github(hook.secret, 'push', { ref: 'refs/heads/main' }));
  assert.equal(res.status, 202);
  await serve.waitFor((e) => e.event === 'deployed', 'the deploy');
  assert.equal(w.liveFile('VERSION'), 'v2\n');

  // The relay restarts (kill -9) while a webhook waits on it: the link comes back and it is delivered.
  await relay.kill9();
  relay = await startRelayAgain({ port: relayPort, args: ['--heartbeat', '0.5'] });
  w.repo.commit({ VERSION: 'v3\n' });
  const later = await post(relay.url, path, github(hook.secret, 'push', { ref: 'refs/heads/main' }));
  assert.equal(later.status, 202);
  await serve.waitFor(() => serve.events().filter((e) => e.event === 'deployed').length === 2, 'the second deploy', 30_000);
  assert.equal(w.liveFile('VERSION'), 'v3\n');
  assert.equal((await serve.stop()).code, 0);
});

test('a webhook held an hour by the relay is judged by when the relay got it; an old one posted now is refused', async (t) => {
  const world = await relayWorld(t);
  const { w, relayDir, env, hook, track, startRelayAgain } = world;
  let relay = world.relay;
  const instance = hook.relay.instance;
  const port = Number(new URL(relay.url).port);
  assert.equal((await relay.stop()).code, 0);

  // What the relay's disk holds after storing, an hour ago, a webhook signed an hour ago.
  const hourAgo = Date.now() - 3600_000;
  const held = standard(hook.secret, { type: 'save', ref: 'refs/heads/main' }, { ts: Math.floor(hourAgo / 1000) });
  const store = await relayBackends[0].open(relayDir);
  await store.append(instance, { id: 'rly_heldanhour', app: 'sample', at: hourAgo, headers: held.headers, body: held.body });
  await store.close();
  relay = await startRelayAgain({ port });
  w.repo.commit({ VERSION: 'v2\n' });
  // And one signed an hour ago but posted to the relay only now: a replay.
  const replay = standard(hook.secret, { type: 'save', ref: 'refs/heads/main' }, { ts: Math.floor(hourAgo / 1000) });
  const r = await post(relay.url, new URL(hook.url).pathname, replay);
  assert.equal(r.status, 202); // the relay cannot check signatures; the instance does

  const serve = track(await startDaemon(w.data, { env }));
  await relay.waitFor(() => relay.events().filter((e) => e.event === 'acked').length === 2, 'both acked');
  const acked = relay.events().filter((e) => e.event === 'acked');
  assert.equal(acked.find((e) => e.id === 'rly_heldanhour').status, 202);
  assert.equal(acked.find((e) => e.id === r.body.id).status, 401);
  const done = await serve.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy');
  assert.equal(done.event, 'deployed');
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  assert.equal((await serve.stop()).code, 0);
});

test('a relayed delivery that meets a broken settings file is kept on the relay, not lost, and the daemon stays up', async (t) => {
  const { w, relay, env, hook, track } = await relayWorld(t);
  const serve = track(await startDaemon(w.data, { env }));
  await serve.waitFor((e) => e.event === 'relay-up', 'the link');
  const config = layoutOf(w.data).appConfig('sample');
  const good = fs.readFileSync(config, 'utf8');
  fs.writeFileSync(config, '{ "source": '); // a hand edit gone wrong
  w.repo.commit({ VERSION: 'v2\n' });
  const r = await post(relay.url, new URL(hook.url).pathname, github(hook.secret, 'push', { ref: 'refs/heads/main' }));
  assert.equal(r.status, 202);
  await serve.waitFor((e) => e.event === 'relay-error', 'the delivery meeting the broken file');
  await relay.waitFor((e) => e.event === 'nacked', 'the relay keeping it');
  fs.writeFileSync(config, good);
  const done = await serve.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy once the file is fixed', 30_000);
  assert.equal(done.event, 'deployed');
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  assert.equal((await serve.stop()).code, 0);
});

test('a relay this server is not registered with is named in the serve log once, with the command that registers', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  // The relay could not be reached when webhooks were enabled: no registration was kept.
  const env = { REV_RELAY_URL: 'http://127.0.0.1:1' };
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const en = await w.toes(['webhook', 'enable', 'sample'], { env });
  assert.equal(en.code, 0, en.stderr);
  assert.match(en.stderr, /Could not reach the relay at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  const serve = await startDaemon(w.data, { env });
  t.after(() => ensureStopped(serve));
  const e = await serve.waitFor((e) => e.event === 'relay-unregistered', 'the relay-unregistered line');
  assert.equal(e.relay, 'http://127.0.0.1:1');
  assert.match(e.note, /run `toes webhook enable` again for an app to register/);
  assert.equal(serve.events().filter((x) => x.event === 'relay-unregistered').length, 1);
  assert.equal(serve.events().filter((x) => x.event === 'relay-connecting').length, 0);
});
