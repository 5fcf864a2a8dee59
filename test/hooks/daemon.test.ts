// `toes serve` as a real process: signed webhooks from each host deploy the newest commit
// through the durable queue, with a real git server and real deploy workers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appFiles } from '../fixtures/repo.js';
import { ensureStopped, gitea, github, post, standard, startDaemon, type Daemon } from '../fixtures/hooks.js';
import { makeWorld, type World } from '../fixtures/world.js';

async function deployedWorld(t: { after(fn: () => unknown): void }): Promise<{ w: World; secret: string }> {
  const w = await makeWorld();
  t.after(() => w.close());
  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const en = await w.toes(['webhook', 'enable', 'sample', '--json']);
  assert.equal(en.code, 0, en.stderr);
  return { w, secret: en.json().secret };
}

const push = (ref = 'refs/heads/main') => ({ type: 'save', repo: 'me/sample', ref, timestamp: new Date().toISOString() });

test('a signed push from rev.host, GitHub, Gitea and Forgejo each deploys the newest commit', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);

  const deliveries = [
    () => standard(secret, push()),
    () => github(secret, 'push', { ref: 'refs/heads/main', after: 'x' }),
    () => gitea(secret, 'push', { ref: 'refs/heads/main' }),
    () => gitea(secret, 'push', { ref: 'refs/heads/main' }, { forgejo: true }),
  ];
  for (const [i, make] of deliveries.entries()) {
    const commit = w.repo.commit({ VERSION: `v${i + 2}\n` });
    const delivery = make();
    const r = await post(d.url, '/hooks/sample', delivery);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.outcome, 'queued');
    assert.ok(r.ms < 1000, `answered in ${r.ms} ms`);
    const done = await d.waitFor((e) => e.id === r.body.id && ['deployed', 'failed'].includes(e.event), `deploy of ${r.body.id}`);
    assert.equal(done.event, 'deployed', JSON.stringify(done));
    assert.equal(w.liveFile('VERSION'), `v${i + 2}\n`);
    assert.equal(w.releaseLog().pop().commit, commit);
  }
  // The release log says who deployed.
  assert.match(w.releaseLog().pop().trigger, /^webhook /);

  // Pings are answered; pushes elsewhere and other events are acknowledged and ignored.
  const ping = await post(d.url, '/hooks/sample', github(secret, 'ping', { zen: 'hi' }));
  assert.deepEqual([ping.status, ping.body.outcome], [200, 'ping']);
  const other = await post(d.url, '/hooks/sample', standard(secret, push('refs/heads/feature')));
  assert.deepEqual([other.status, other.body.outcome], [202, 'ignored']);
  const issue = await post(d.url, '/hooks/sample', github(secret, 'issues', { action: 'opened' }));
  assert.deepEqual([issue.status, issue.body.outcome], [202, 'ignored']);

  const st = await w.toes(['webhook', 'status', 'sample', '--json']);
  assert.equal(st.code, 0, st.stderr);
  const s = st.json();
  assert.equal(s.enabled, true);
  assert.equal(s.url, `${d.url}/hooks/sample`);
  assert.equal(s.daemon.pid, d.pid);
  assert.equal(s.lastDeploy.status, 'live');
  await new Promise((r) => setTimeout(r, 400)); // the delivery log is written a few times a second
  const s2 = (await w.toes(['webhook', 'status', 'sample', '--json'])).json();
  const outcomes = s2.deliveries.map((x: any) => x.outcome);
  assert.deepEqual(outcomes.slice(0, 3), ['ignored', 'ignored', 'ping']);
  assert.equal(outcomes.filter((o: string) => o === 'deployed').length, 4);
  assert.ok(!st.stdout.includes(secret) && !d.out().includes(secret) && !d.err().includes(secret));

  const stopped = await d.stop();
  assert.equal(stopped.code, 0, d.err());
  assert.equal(fs.existsSync(path.join(w.data, 'rev/hooks/serve.json')), false);
  assert.ok(d.events().some((e) => e.event === 'stopped'));
});
