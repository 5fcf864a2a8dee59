// One result shape end to end: what the deploy worker returned is what the daemon logs,
// what the delivery log keeps and what `toes webhook status --json` shows, success and
// failure alike; and the release log says who asked (a webhook, or the settings page).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureStopped, post, standard, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { session } from '../../fixtures/page-login.js';
import { appFiles } from '../../fixtures/repo.js';
import type { World } from '../../fixtures/world.js';
import { hookedWorld } from './hooked-world.js';

const push = () => ({ type: 'save', repo: 'me/sample', ref: 'refs/heads/main', timestamp: new Date().toISOString() });

/** The delivery `id` as `toes webhook status --json` shows it, once its deploy has ended. */
async function statusOf(w: World, id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const st = (await w.toes(['webhook', 'status', 'sample', '--json'])).json();
    const d = st.deliveries.find((x: any) => x.id === id);
    if (d?.result) return { st, d };
    if (Date.now() > deadline) assert.fail(`no result for ${id} in ${JSON.stringify(st.deliveries)}`);
    await new Promise((r) => setTimeout(r, 100)); // the delivery log is written a few times a second
  }
}

test("a deploy's result reaches the delivery log and `webhook status` unchanged, success and failure alike", async (t) => {
  const { w, secret } = await hookedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);

  // A deploy that goes live.
  const commit = w.repo.commit({ VERSION: 'v2\n' });
  const ok = await post(d.url, '/hooks/sample', standard(secret, push()));
  assert.equal(ok.status, 202);
  const logged = await d.waitFor((e) => e.id === ok.body.id && ['deployed', 'failed'].includes(e.event), 'the deploy');
  assert.equal(logged.event, 'deployed', JSON.stringify(logged));
  const live = w.releaseLog().filter((r) => r.status === 'live').pop();
  const { st, d: good } = await statusOf(w, ok.body.id);
  assert.equal(good.outcome, 'deployed');
  assert.deepEqual(
    [good.result.ok, good.result.op, good.result.app, good.result.status, good.result.release, good.result.version, good.result.commit],
    [true, 'deploy', 'sample', 'live', live.id, live.version, commit],
  );
  assert.deepEqual([logged.release, logged.version], [good.result.release, good.result.version]);
  assert.deepEqual([good.release, good.version], [good.result.release, good.result.version]);
  assert.equal(good.result.stages, undefined, 'per-stage timings are left to the deploy log');
  assert.equal(st.lastDeploy.release, good.result.release);
  assert.equal(live.trigger, `webhook ${ok.body.id}`);

  // A deploy whose build fails: the same shape, with the error's code.
  const broken = appFiles('v3');
  broken['package.json'] = JSON.stringify({ name: 'sample', scripts: { predeploy: 'echo no; exit 3' } });
  w.repo.commit(broken);
  const bad = await post(d.url, '/hooks/sample', standard(secret, push()));
  assert.equal(bad.status, 202);
  const failed = await d.waitFor((e) => e.id === bad.body.id && ['deployed', 'failed'].includes(e.event), 'the failing deploy');
  assert.equal(failed.event, 'failed', JSON.stringify(failed));
  const record = w.releaseLog().pop();
  const { st: st2, d: lost } = await statusOf(w, bad.body.id);
  assert.equal(lost.outcome, 'failed');
  assert.deepEqual(
    [lost.result.ok, lost.result.status, lost.result.release, lost.result.version, lost.result.error.code],
    [false, 'failed', record.id, record.version, record.error.code],
  );
  assert.equal(lost.result.error.code, 'BUILD_FAILED');
  assert.equal(failed.code, lost.result.error.code);
  assert.equal(lost.reason, lost.result.error.message);
  assert.equal(lost.result.error.logTail, undefined, 'the log tail is left to the deploy log');
  assert.deepEqual([st2.lastDeploy.release, st2.lastDeploy.status], [record.id, 'failed']);
  assert.equal((await d.stop()).code, 0);
});

test('Deploy Now on the settings page deploys with the trigger `page` in the release log; its Rollback answers from the result', async (t) => {
  const { w } = await hookedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const commit = w.repo.commit({ VERSION: 'v2\n' });
  // What the page's Deploy Now button sends, from a logged-in browser.
  const cookie = await session(d.url, w.data);
  const res = await fetch(`${d.url}/apps/sample/deploy`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-toes-page': '1' }, body: '{}' });
  assert.equal(res.status, 202, await res.text());
  const done = await d.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy');
  assert.equal(done.event, 'deployed', JSON.stringify(done));
  const live = w.releaseLog().filter((r) => r.status === 'live').pop();
  assert.deepEqual([live.commit, live.trigger], [commit, 'page']);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  const st = (await w.toes(['webhook', 'status', 'sample', '--json'])).json();
  assert.equal(st.lastDeploy.trigger, 'page');

  // Its Rollback: the worker's result becomes the page's sentence and status.
  const first = w.releaseLog()[0].id;
  const rollback = (release: string) => fetch(`${d!.url}/apps/sample/rollback`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-toes-page': '1' }, body: JSON.stringify({ release }) });
  const back = await rollback(first);
  assert.deepEqual([back.status, await back.json()], [200, { ok: true, message: `sample is live at ${first} again.` }]);
  assert.equal(w.live(), first);
  const none = await rollback('20000101-000000');
  assert.equal(none.status, 404);
  assert.equal((await d.stop()).code, 0);
});
