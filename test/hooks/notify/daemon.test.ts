// End to end, on Node and on Bun: `toes serve` as a real process takes a signed GitHub push,
// deploys it with a real worker, and the outcome reaches a loopback forge (GitHub's API, as
// GitHub Enterprise: found from the webhook's repository.html_url) and a receiver that
// verifies Standard Webhooks; a kill -9 between the outbox write and the send loses and
// repeats nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { outboxDir } from '../../../src/hooks/notify/paths.js';
import { readNotifyState, type TargetOutcome } from '../../../src/hooks/notify/outcomes.js';
import { ensureStopped, github, post, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { hookedWorld } from '../serve/hooked-world.js';
import { eventReceiver, forgeServer } from './servers.js';

const TOKEN = 'ghp_notify_test_token_0123456789';

for (const runtime of ['node', 'bun'] as const) {
  const env = { TOES_RUNTIME: runtime };

  test(`${runtime}: a pushed commit whose predeploy fails gets a failure status and a deploy.failed event; the previous release stays live`, async (t) => {
    const { w, secret } = await hookedWorld(t);
    const forge = await forgeServer(t, 'github', { token: TOKEN, repo: 'me/app', prefix: '/api/v3' });
    const r = await eventReceiver(t);
    const add = await w.toes(['notify', 'add', 'sample', `${r.url}/hook`, '--json'], { env });
    assert.equal(add.code, 0, add.stderr);
    r.secret = add.json().secret;
    assert.equal((await w.toes(['env', 'set', 'sample', 'FORGE_TOKEN', '--host', new URL(forge.url).host], { env, input: TOKEN })).code, 0);
    let d: Daemon | undefined;
    t.after(() => ensureStopped(d));
    d = await startDaemon(w.data, { env });
    const live = w.live();

    const sha = w.repo.commit({ 'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { predeploy: 'exit 3' } }) });
    const reply = await post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main', after: sha, repository: { html_url: `${forge.url}/me/app` } }));
    assert.equal(reply.status, 202, JSON.stringify(reply.body));

    const failure = await forge.waitFor((s) => s.body?.state === 'failure', 'the failure status');
    assert.equal(failure.path, `/api/v3/repos/me/app/statuses/${sha}`);
    assert.equal(failure.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(failure.body.context, 'toes/sample');
    assert.match(failure.body.description, /predeploy/i);
    assert.deepEqual(forge.seen.map((s) => [s.body.state, s.status]), [['pending', 201], ['failure', 201]]);
    const failed = await r.waitFor((x) => x.body?.type === 'deploy.failed', 'deploy.failed');
    assert.equal(failed.verified, true);
    assert.equal(failed.body.data.commit, sha);
    assert.equal(failed.body.data.app, 'sample');
    assert.equal(w.live(), live, 'the failed deploy changed what is live');

    // A refused delivery is an event too (at most one per app every 10 minutes).
    const forged = await post(d.url, '/hooks/sample', github('whsec_not_the_secret', 'push', { ref: 'refs/heads/main' }));
    assert.equal(forged.status, 401);
    const refused = await r.waitFor((x) => x.body?.type === 'delivery.refused', 'delivery.refused');
    assert.equal(refused.verified, true);
    assert.match(refused.body.data.reason, /does not match/);
    assert.equal(refused.body.data.status, 401);

    // The sender notes an outcome after the forge has answered: wait for the note, not for the request.
    const sentFailure = (o: TargetOutcome) => o.target === 'github me/app' && o.outcome === 'sent' && o.what === 'failure';
    for (let i = 0; i < 300 && !(await readNotifyState(w.layout, 'sample')).targets.some(sentFailure); i++) await new Promise((ok) => setTimeout(ok, 100));
    const st = await w.toes(['webhook', 'status', 'sample', '--json'], { env });
    const notify = st.json().notify;
    assert.equal(notify.statuses.target, 'github me/app');
    assert.equal(notify.lastDeploy.commitUrl, `${forge.url}/me/app/commit/${sha}`);
    assert.ok(notify.outcomes.some(sentFailure));
    for (const text of [st.stdout, d.out(), d.err(), fs.readFileSync(`${w.layout.appState('sample')}/notify-state.json`, 'utf8')]) assert.ok(!text.includes(TOKEN), 'the token leaked');
    assert.equal((await d.stop()).code, 0);
  });

  test(`${runtime}: kill -9 of toes serve between the outbox write and the send: after the restart each message arrives exactly once`, async (t) => {
    const { w, secret } = await hookedWorld(t);
    const forge = await forgeServer(t, 'github', { token: TOKEN, repo: 'me/app', prefix: '/api/v3' });
    const r = await eventReceiver(t);
    r.secret = (await w.toes(['notify', 'add', 'sample', `${r.url}/hook`, '--json'], { env })).json().secret;
    assert.equal((await w.toes(['env', 'set', 'sample', 'FORGE_TOKEN', '--host', new URL(forge.url).host], { env, input: TOKEN })).code, 0);
    let d: Daemon | undefined;
    t.after(() => ensureStopped(d));
    d = await startDaemon(w.data, { env: { ...env, TOES_REV_FAILPOINT: 'notify-send' } });

    const sha = w.repo.commit({ VERSION: 'v2\n' });
    const reply = await post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main', after: sha, repository: { html_url: `${forge.url}/me/app` } }));
    assert.equal(reply.status, 202);
    await d.waitFor((e) => e.event === 'deployed' && e.id === reply.body.id, 'the deploy');
    await d.waitForErr('failpoint notify-send reached');
    await d.kill9();
    assert.equal(forge.seen.length + r.received.length, 0, 'sent before the kill');
    assert.equal(fs.readdirSync(outboxDir(w.layout)).filter((n) => n.endsWith('.json')).length, 4, 'pending, started, success, succeeded');

    d = await startDaemon(w.data, { env });
    await forge.waitFor((s) => s.body?.state === 'success', 'the success status');
    await r.waitFor((x) => x.body?.type === 'deploy.succeeded', 'deploy.succeeded');
    const deadline = Date.now() + 30_000;
    while (fs.readdirSync(outboxDir(w.layout)).some((n) => n.endsWith('.json'))) {
      assert.ok(Date.now() < deadline, 'the outbox did not empty');
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.deepEqual(forge.seen.map((s) => [s.body.state, s.path.endsWith(sha)]), [['pending', true], ['success', true]]);
    assert.deepEqual(r.received.map((x) => x.body.type), ['deploy.started', 'deploy.succeeded']);
    assert.equal(new Set(r.received.map((x) => x.id)).size, 2);
    assert.ok(r.received.every((x) => x.verified));
    // The deploy itself was consumed before the kill: it does not run again.
    assert.ok(!d.events().some((e) => e.event === 'deploying'), 'the deploy ran again');
    assert.equal((await d.stop()).code, 0);
  });
}
