// `toes serve` as a real process: signed webhooks from each host deploy the newest commit
// through the durable queue, with a real git server and real deploy workers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isRunning, startUntil } from '../../fixtures/cli.js';
import { appFiles } from '../../fixtures/repo.js';
import { ensureStopped, gitea, github, post, standard, startDaemon, trickle, type Daemon, type Reply } from '../../fixtures/hooks.js';
import { makeWorld, type World } from '../../fixtures/world.js';
import { layoutOf } from '../layout.js';

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
  assert.equal(fs.existsSync(layoutOf(w.data).serveFile), false);
  assert.ok(d.events().some((e) => e.event === 'stopped'));
});

test('bad deliveries are refused with the exact status, logged without secrets, and deploy nothing', async (t) => {
  const { w, secret } = await deployedWorld(t);
  const otherSecret = (await w.toes(['webhook', 'enable', 'other', '--json'])).json().secret;
  assert.equal((await w.toes(['webhook', 'disable', 'off', '--json'])).code, 0);
  assert.equal((await w.toes(['webhook', 'enable', 'off', '--json'])).code, 0);
  assert.equal((await w.toes(['webhook', 'disable', 'off', '--json'])).code, 0);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data, { args: ['--read-timeout', '1'] });
  w.repo.commit({ VERSION: 'v2\n' });
  const releases = () => new Set(w.releaseLog().map((r) => r.id)).size;
  const before = releases();
  const now = Math.floor(Date.now() / 1000);

  const unsigned = standard(secret, push());
  delete unsigned.headers['webhook-signature'];
  delete unsigned.headers['webhook-id'];
  delete unsigned.headers['webhook-timestamp'];
  const wrongSig = standard(secret, push());
  wrongSig.headers['webhook-signature'] = 'v1,' + Buffer.alloc(32, 7).toString('base64');
  const tampered = standard(secret, push());
  tampered.body = Buffer.from(tampered.body.toString().replace('save', 'merge'));
  const badJson = standard(secret, '{"type": "save", ');
  const plain = standard(secret, push());
  plain.headers['content-type'] = 'text/plain';
  const huge = standard(secret, { ...push(), pad: 'x'.repeat(1024 * 1024) });

  const cases: [string, string, { headers: Record<string, string>; body: Buffer }, number][] = [
    ['no signature', '/hooks/sample', unsigned, 401],
    ['a wrong signature', '/hooks/sample', wrongSig, 401],
    ['a body changed after signing', '/hooks/sample', tampered, 401],
    ["another app's secret", '/hooks/sample', standard(otherSecret, push()), 401],
    ['a GitHub signature with the wrong secret', '/hooks/sample', github(otherSecret, 'push', { ref: 'refs/heads/main' }), 401],
    ['a Forgejo signature with the wrong secret', '/hooks/sample', gitea(otherSecret, 'push', { ref: 'refs/heads/main' }, { forgejo: true }), 401],
    ['a stale timestamp', '/hooks/sample', standard(secret, push(), { ts: now - 600 }), 401],
    ['a future timestamp', '/hooks/sample', standard(secret, push(), { ts: now + 600 }), 401],
    ['a timestamp that is not a number', '/hooks/sample', { ...standard(secret, push()), headers: { ...standard(secret, push()).headers, 'webhook-timestamp': 'soon' } }, 400],
    ['malformed JSON, correctly signed', '/hooks/sample', badJson, 400],
    ['a wrong content type', '/hooks/sample', plain, 415],
    ['a body over 1 MiB', '/hooks/sample', huge, 413],
    ['an unknown app', '/hooks/nosuchapp', standard(secret, push()), 404],
    ['an app whose webhooks are disabled', '/hooks/off', standard(secret, push()), 403],
    ['a path with ..', '/hooks/..%2F..%2Fetc', standard(secret, push()), 400],
    ['a path with .. segments', '/hooks/../sample', standard(secret, push()), 400],
    ['odd characters', '/hooks/sam$ple', standard(secret, push()), 400],
    ['a nested path', '/hooks/sample/extra', standard(secret, push()), 400],
  ];
  for (const [what, p, delivery, status] of cases) {
    const r: Reply = await post(d.url, p, delivery).catch((err) => assert.fail(`${what}: ${err.message}`));
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.ok, false, what);
    assert.ok(typeof r.body.message === 'string' && r.body.message.length > 10, what);
  }

  // GET is not a delivery.
  const get = await post(d.url, '/hooks/sample', { headers: {}, body: Buffer.alloc(0) }, { method: 'GET' });
  assert.equal(get.status, 405);

  // A body over 1 MiB sent without a length (chunked) is cut off at the limit.
  const chunk = Buffer.alloc(256 * 1024, 'a');
  const chunked = await trickle(d.url, '/hooks/sample', { ...standard(secret, push()).headers, 'transfer-encoding': 'chunked' }, Array(6).fill(chunk), 5);
  assert.equal(chunked.status, 413);
  // A length that lies (claims more than it sends) and a client that trickles time out.
  const slow = standard(secret, push());
  const trickled = await trickle(d.url, '/hooks/sample', { ...slow.headers, 'content-length': String(slow.body.length) }, [...slow.body].map((b) => Buffer.from([b])), 300);
  assert.equal(trickled.status, 408);

  // A replay: the same delivery again is acknowledged and queues nothing more.
  const once = standard(secret, push());
  const first = await post(d.url, '/hooks/sample', once);
  assert.equal(first.status, 202);
  await d.waitFor((e) => e.id === first.body.id && e.event === 'deployed', 'the first delivery deployed');
  const again = await post(d.url, '/hooks/sample', once);
  assert.deepEqual([again.status, again.body.outcome], [200, 'duplicate']);
  const gh = github(secret, 'push', { ref: 'refs/heads/main' });
  assert.equal((await post(d.url, '/hooks/sample', gh)).status, 202);
  assert.deepEqual((await post(d.url, '/hooks/sample', gh)).status, 200);
  const ghDone = await d.waitFor((e) => ['deployed', 'unchanged', 'failed'].includes(e.event) && e.id === gh.headers['x-github-delivery'], 'the GitHub delivery deployed');
  assert.equal(ghDone.event, 'unchanged'); // nothing was pushed since the first

  // Only the two accepted deliveries started deploys (the second found nothing new).
  const deploys = d.events().filter((e) => e.event === 'deploying');
  assert.equal(deploys.length, 2, JSON.stringify(deploys));
  assert.equal(releases(), before + 1);
  assert.equal(d.events().filter((e) => e.event === 'refused').length, cases.length + 3);
  for (const text of [d.out(), d.err()]) {
    assert.ok(!text.includes(secret) && !text.includes(otherSecret), 'a secret reached the log');
    assert.ok(!text.includes(secret.slice(6, 20)), 'part of a secret reached the log');
  }
  const stopped = await d.stop();
  assert.equal(stopped.code, 0);
});

test('50 webhooks at once: every one answered 2xx within 1 s, at most two deploys, the newest commit live', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const newest = w.repo.commit({ VERSION: 'burst\n' });
  const replies = await Promise.all(Array.from({ length: 50 }, () => post(d!.url, '/hooks/sample', standard(secret, push()))));
  for (const r of replies) {
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.ok(r.ms < 1000, `answered in ${Math.round(r.ms)} ms`);
  }
  // Wait until the queue is empty and nothing runs.
  await d.waitFor(() => {
    const ev = d!.events();
    const started = ev.filter((e) => e.event === 'deploying').length;
    const ended = ev.filter((e) => ['deployed', 'unchanged', 'failed'].includes(e.event)).length;
    return started > 0 && started === ended && !ev.slice(-1)[0].event.startsWith('queued');
  }, 'the queue to drain');
  await new Promise((r) => setTimeout(r, 300));
  const ev = d.events();
  const deploys = ev.filter((e) => e.event === 'deploying');
  assert.ok(deploys.length >= 1 && deploys.length <= 2, `${deploys.length} deploys ran`);
  assert.equal(ev.filter((e) => e.event === 'failed').length, 0);
  // Every queued event was either deployed itself or superseded by a later one.
  const queued = ev.filter((e) => e.event === 'queued').length;
  assert.equal(queued, 50);
  assert.equal(ev.filter((e) => e.event === 'superseded').length + deploys.length, 50);
  assert.equal(w.releaseLog().filter((r) => r.status === 'live').pop().commit, newest);
  assert.equal(w.liveFile('VERSION'), 'burst\n');
  assert.equal((await d.stop()).code, 0);
});

test('kill -9 of the daemon with events queued: after a restart they are deployed, nothing lost', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  // The first deploy stops at its fetch, so later events stay queued behind it.
  d = await startDaemon(w.data, { env: { TOES_REV_FAILPOINT: 'fetch' } });
  w.repo.commit({ VERSION: 'v2\n' });
  const first = await post(d.url, '/hooks/sample', standard(secret, push()));
  assert.equal(first.status, 202);
  await d.waitForErr('failpoint fetch reached');
  const newest = w.repo.commit({ VERSION: 'v3\n' });
  const later = await Promise.all(Array.from({ length: 5 }, () => post(d!.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main' }))));
  for (const r of later) assert.equal(r.status, 202);
  await d.kill9();
  assert.equal(w.liveFile('VERSION'), 'v1\n');

  d = await startDaemon(w.data);
  const resumed = await d.waitFor((e) => e.event === 'resumed', 'the queue resumed');
  // The newest queued event stands for the others (the first one's deploy was taken, never finished).
  assert.ok(later.some((r) => r.body.id === resumed.id), JSON.stringify(resumed));
  const done = await d.waitFor((e) => ['deployed', 'failed', 'unchanged'].includes(e.event), 'the resumed deploy');
  assert.equal(done.event, 'deployed', d.out());
  assert.equal(w.liveFile('VERSION'), 'v3\n');
  assert.equal(w.releaseLog().filter((r) => r.status === 'live').pop().commit, newest);
  // Redelivering one of those (a host that missed our answer) deploys nothing again.
  const dup = await post(d.url, '/hooks/sample', standard(secret, push(), { id: first.body.id }));
  assert.equal(dup.body.outcome, 'duplicate');
  assert.equal((await d.stop()).code, 0);
  // The killed deploy left nothing behind that needs a hand.
  assert.equal(fs.existsSync(layoutOf(w.data).lockDir('sample')), false);
  const rel = await w.toes(['releases', 'sample', '--json']);
  assert.ok(!rel.json().some((r: any) => r.status === 'building'));
});

test('SIGTERM abandons a running build, exits 0, and the deploy runs after the restart', async (t) => {
  const files = { ...appFiles('v1') };
  files['package.json'] = JSON.stringify({ name: 'sample', scripts: { predeploy: 'echo built > built.txt' } });
  const w = await makeWorld({ files });
  t.after(() => w.close());
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url])).code, 0);
  const secret = (await w.toes(['webhook', 'enable', 'sample', '--json'])).json().secret;
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data, { env: { TOES_REV_FAILPOINT: 'predeploy' } });
  w.repo.commit({ VERSION: 'v2\n' });
  const r = await post(d.url, '/hooks/sample', standard(secret, push()));
  assert.equal(r.status, 202);
  await d.waitForErr('failpoint predeploy reached');
  const pid = Number(/failpoint predeploy reached pid=(\d+)/.exec(d.err())![1]);
  const stopped = await d.stop();
  assert.equal(stopped.code, 0, d.err());
  assert.ok(d.events().some((e) => e.event === 'abandoned' && e.id === r.body.id));
  assert.ok(!isRunning(pid), 'the deploy worker outlived the daemon');
  assert.equal(w.liveFile('VERSION'), 'v1\n');

  d = await startDaemon(w.data);
  const done = await d.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy after restart');
  assert.equal(done.event, 'deployed', d.out());
  assert.equal(done.id, r.body.id);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
  assert.equal((await d.stop()).code, 0);
});

test('the daemon follows webhook and config changes made while it runs', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const until = async (fn: () => Promise<boolean>, what: string) => {
    // Generous: a watch event can take seconds on a loaded machine; what matters is that it comes.
    const deadline = Date.now() + 30_000;
    while (!(await fn())) {
      if (Date.now() > deadline) assert.fail(`not picked up in 30 s: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  // A new app's webhook works without a restart...
  assert.equal((await post(d.url, '/hooks/second', standard(secret, push()))).status, 404);
  const second = (await w.toes(['webhook', 'enable', 'second', '--json'])).json().secret;
  await until(async () => (await post(d!.url, '/hooks/second', standard(second, { type: 'ping' }))).status === 200, 'enable');
  // ...disabling it refuses deliveries...
  assert.equal((await w.toes(['webhook', 'disable', 'sample'])).code, 0);
  await until(async () => (await post(d!.url, '/hooks/sample', standard(secret, { type: 'ping' }))).status === 403, 'disable');
  // ...a rotated secret replaces the old one...
  const rotated = (await w.toes(['webhook', 'enable', 'sample', '--rotate', '--json'])).json().secret;
  assert.notEqual(rotated, secret);
  await until(async () => (await post(d!.url, '/hooks/sample', standard(rotated, { type: 'ping' }))).status === 200, 'rotate');
  assert.equal((await post(d.url, '/hooks/sample', standard(secret, { type: 'ping' }))).status, 401);
  // ...and a branch setting changes which pushes deploy.
  assert.equal((await w.toes(['config', 'set', 'sample', 'branch', 'release'])).code, 0);
  await until(async () => (await post(d!.url, '/hooks/sample', standard(rotated, push('refs/heads/main')))).body.outcome === 'ignored', 'branch');
  assert.equal((await d.stop()).code, 0);
});

test('a manual deploy and the daemon share the app lock; a second daemon is refused', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const again = await w.toes(['serve', '--port', '0']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`Another toes serve \\(pid ${d.pid}\\) is already running`));

  // A manual deploy holds the lock (stopped at its fetch); the webhook deploy waits for it.
  w.repo.commit({ VERSION: 'v2\n' });
  const manual = startUntil(w.data, ['deploy', 'sample'], 'failpoint fetch reached', { env: { TOES_REV_FAILPOINT: 'fetch' } });
  t.after(() => manual.child.kill('SIGKILL'));
  await manual.reached;
  const r = await post(d.url, '/hooks/sample', standard(secret, push()));
  assert.equal(r.status, 202);
  await d.waitFor((e) => e.event === 'deploying', 'the webhook deploy to start');
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(!d.events().some((e) => e.event === 'deployed'), 'deployed while the manual deploy held the lock');
  // The manual deploy dies; its lock is recovered and the webhook deploy goes ahead.
  manual.child.kill('SIGKILL');
  await manual.closed;
  const done = await d.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the webhook deploy');
  assert.equal(done.event, 'deployed', d.out());
  assert.equal(w.liveFile('VERSION'), 'v2\n');

  // And the other way round: while the daemon deploys, `toes deploy --wait 0` names the holder.
  assert.equal((await d.stop()).code, 0);
  d = await startDaemon(w.data, { env: { TOES_REV_FAILPOINT: 'fetch' } });
  w.repo.commit({ VERSION: 'v3\n' });
  assert.equal((await post(d.url, '/hooks/sample', standard(secret, push()))).status, 202);
  await d.waitForErr('failpoint fetch reached');
  const busy = await w.toes(['deploy', 'sample', '--wait', '0', '--json']);
  assert.equal(busy.code, 1);
  assert.equal(busy.json().error.code, 'LOCKED');
  assert.match(busy.json().error.message, /holds its lock/);
  await d.kill9();
});

test('under Bun, toes serve receives a signed push and deploys it', async (t) => {
  const { w, secret } = await deployedWorld(t);
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data, { bun: true });
  w.repo.commit({ VERSION: 'bun\n' });
  const r = await post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main' }));
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await d.waitFor((e) => ['deployed', 'failed'].includes(e.event), 'the deploy');
  assert.equal(done.event, 'deployed', d.out() + d.err());
  assert.equal(w.liveFile('VERSION'), 'bun\n');
  assert.equal((await post(d.url, '/hooks/sample', github('wrong', 'push', { ref: 'refs/heads/main' }))).status, 401);
  assert.equal((await d.stop()).code, 0);
});
