// One followed branch for the webhook and the deploy it queues: an app deployed with
// `--ref staging` takes pushes to staging, and its deploys (by webhook or by hand) fetch
// staging's tip, never the remote's default branch. A real daemon and a real git server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureStopped, gitea, github, post, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { hookedWorld } from './hooked-world.js';

test('deployed with --ref staging: a push to main is ignored, a push to staging deploys staging\'s tip', async (t) => {
  const { w, secret } = await hookedWorld(t, { ref: 'staging', before: (w) => w.repo.commitOn('staging', { VERSION: 'staging-1\n' }) });
  assert.equal(w.liveFile('VERSION'), 'staging-1\n');
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);

  // main moves on too: it is the remote's default branch, which the deploy must not take.
  w.repo.commit({ VERSION: 'main-2\n' });
  const toMain = await post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main', after: 'f'.repeat(40) }));
  assert.deepEqual([toMain.status, toMain.body.outcome], [202, 'ignored'], JSON.stringify(toMain.body));
  assert.match(toMain.body.message, /follows refs\/heads\/staging/);

  const tip = w.repo.commitOn('staging', { VERSION: 'staging-2\n' });
  const r = await post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/staging', after: tip }));
  assert.deepEqual([r.status, r.body.outcome], [202, 'queued'], JSON.stringify(r.body));
  const done = await d.waitFor((e) => e.id === r.body.id && ['deployed', 'unchanged', 'failed'].includes(e.event), 'the staging deploy');
  assert.equal(done.event, 'deployed', JSON.stringify(done));
  assert.equal(w.liveFile('VERSION'), 'staging-2\n');
  const live = w.releaseLog().pop();
  assert.deepEqual([live.commit, live.ref], [tip, 'refs/heads/staging']);

  // Gitea's form encoding deploys the same way.
  const next = w.repo.commitOn('staging', { VERSION: 'staging-3\n' });
  const form = await post(d.url, '/hooks/sample', gitea(secret, 'push', { ref: 'refs/heads/staging', after: next }, { form: true }));
  assert.deepEqual([form.status, form.body.outcome], [202, 'queued'], JSON.stringify(form.body));
  const formDone = await d.waitFor((e) => e.id === form.body.id && ['deployed', 'unchanged', 'failed'].includes(e.event), 'the form delivery\'s deploy');
  assert.equal(formDone.event, 'deployed', JSON.stringify(formDone));
  assert.equal(w.liveFile('VERSION'), 'staging-3\n');
  assert.equal((await d.stop()).code, 0);

  // `toes deploy sample` without --ref takes the same branch as the webhook.
  const last = w.repo.commitOn('staging', { VERSION: 'staging-4\n' });
  const byHand = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(byHand.code, 0, byHand.stderr);
  assert.equal(w.liveFile('VERSION'), 'staging-4\n');
  assert.equal(w.releaseLog().pop().commit, last);
});
