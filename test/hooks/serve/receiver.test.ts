// The receiver's decision, in process, over real parts: the app's state as the CLI writes
// it (webhook secret, `branch` setting, release log), the durable queue and the delivery
// log. Payloads are minimal ones written here, signed the way each host signs them.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { AppHooksCache } from '../../../src/hooks/serve/app-hooks.js';
import { DeliveryLog, readDeliveries } from '../../../src/hooks/serve/deliveries.js';
import { DeployQueue } from '../../../src/hooks/serve/queue.js';
import { webhookStatus } from '../../../src/hooks/serve/status.js';
import { receiveDelivery, MAX_BODY, type Answer } from '../../../src/hooks/serve/receiver.js';
import { setWebhook } from '../../../src/hooks/serve/webhook-state.js';
import { appendLog, type ReleaseRecord } from '../../../src/releases/log.js';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { updateJson } from '../../../src/releases/settings/files.js';
import { tmpDir } from '../../fixtures/cli.js';
import { gitea, github, standard, type Delivery } from '../../fixtures/hooks.js';

const ZEROS = '0'.repeat(40);
const TIP = 'a'.repeat(40);
const SOURCE = 'https://git.example/me/app.git';

/** An app `app` taking webhooks, with the given `branch` setting and live release. */
async function receiver(t: TestContext, state: { branch?: string; live?: Partial<ReleaseRecord> }) {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const layout = new Layout(resolveRoots({ dataDir: data }, {}));
  const { secret } = await setWebhook(layout, 'app', { enabled: true });
  await updateJson(layout.appConfig('app'), (v) => {
    v.source = SOURCE;
    if (state.branch) v.branch = state.branch;
  });
  if (state.live) {
    const live: ReleaseRecord = { id: '20250101-000000', version: TIP, kind: 'git', status: 'live', source: SOURCE, commit: TIP, createdAt: new Date().toISOString(), trigger: 'cli', ...state.live };
    await appendLog(layout.releaseLog('app'), [live]);
  }
  const queue = await DeployQueue.open(path.join(data, 'queue.jsonl'));
  t.after(() => queue.close());
  const deliveries = new DeliveryLog(layout, 0);
  const logged: Record<string, unknown>[] = [];
  const deps = {
    lookup: (app: string) => new AppHooksCache(layout).lookup(app),
    queue,
    deliveries,
    log: (event: string, fields = {}) => void logged.push({ event, ...fields }),
    kick: () => {},
    nowS: () => Math.floor(Date.now() / 1000),
    maxBody: MAX_BODY,
    readTimeoutMs: 5_000,
  };
  return {
    secret,
    logged,
    queued: () => queue.peek('app'),
    deliver: (d: Delivery, from?: string): Promise<Answer> => receiveDelivery({ app: 'app', headers: d.headers, body: d.body, atS: deps.nowS(), from }, deps),
    async status(now?: number) {
      await deliveries.flush();
      return webhookStatus(layout, 'app', 10, now);
    },
    disable: () => setWebhook(layout, 'app', { enabled: false }),
    async lastDelivery() {
      await deliveries.flush();
      return (await readDeliveries(layout, 'app', 1))[0];
    },
  };
}

/** Asserts a 202 that queued nothing and gave a reason matching `why`, in the answer, the log and the deliveries list. */
async function assertIgnored(r: Awaited<ReturnType<typeof receiver>>, a: Answer, why: RegExp, what: string): Promise<void> {
  assert.deepEqual([a.status, a.outcome], [202, 'ignored'], `${what}: ${a.message}`);
  assert.match(a.message, why, what);
  assert.equal(r.queued(), undefined, `${what} was queued`);
  const line = r.logged.filter((e) => e.event === 'ignored').pop();
  assert.equal(line?.reason, a.message, `${what}: the reason is logged`);
  const listed = await r.lastDelivery();
  assert.deepEqual([listed.id, listed.outcome, listed.reason], [a.id, 'ignored', a.message], what);
}

test('a push that deletes the followed branch is ignored: GitHub (deleted: true) and Gitea (after of zeros)', async (t) => {
  const r = await receiver(t, { branch: 'main' });
  const gone = { ref: 'refs/heads/main', before: TIP, after: ZEROS, created: false, deleted: true };
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', gone)), /deletes refs\/heads\/main; a deletion never deploys/, 'GitHub');
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ...gone, deleted: undefined })), /a deletion never deploys/, 'GitHub, after of zeros only');
  await assertIgnored(r, await r.deliver(gitea(r.secret, 'push', { ref: 'refs/heads/main', before: TIP, after: ZEROS })), /a deletion never deploys/, 'Gitea');
  await assertIgnored(r, await r.deliver(gitea(r.secret, 'delete', { ref: 'main', ref_type: 'branch' })), /"delete" events do not deploy/, 'Gitea delete event');
  // A push that creates the branch does deploy.
  const created = await r.deliver(github(r.secret, 'push', { ref: 'refs/heads/main', before: ZEROS, after: TIP, created: true, deleted: false }));
  assert.deepEqual([created.status, created.outcome], [202, 'queued'], created.message);
  assert.equal(r.queued()?.ref, 'refs/heads/main');
});

test('tag pushes, and tag or branch create/delete events, never deploy', async (t) => {
  const r = await receiver(t, { branch: 'main' });
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ref: 'refs/tags/v1.0', base_ref: 'refs/heads/main', after: TIP })), /refs\/tags\/v1.0 is a tag/, 'GitHub tag push');
  await assertIgnored(r, await r.deliver(gitea(r.secret, 'push', { ref: 'refs/tags/v1.0', after: TIP }, { forgejo: true })), /is a tag/, 'Forgejo tag push');
  await assertIgnored(r, await r.deliver(standard(r.secret, { type: 'save', repo: 'me/app', ref: 'tags/v1.0', timestamp: 1 })), /refs\/tags\/v1.0 is a tag/, 'rev.host tag');
  for (const event of ['create', 'delete', 'pull_request']) {
    await assertIgnored(r, await r.deliver(github(r.secret, event, { ref: 'main', ref_type: 'branch' })), new RegExp(`"${event}" events do not deploy`), `GitHub ${event}`);
  }
  const ping = await r.deliver(github(r.secret, 'ping', { zen: 'hi' }));
  assert.deepEqual([ping.status, ping.outcome], [200, 'ping']);
  assert.equal(r.queued(), undefined);
});

test('rev.host: only save and merge to the followed branch deploy; other types are ignored', async (t) => {
  const r = await receiver(t, { branch: 'main' });
  const body = (type: string, ref = 'refs/heads/main') => ({ type, repo: 'me/app', ref, timestamp: 1 });
  for (const type of ['push', 'contact.created']) {
    await assertIgnored(r, await r.deliver(standard(r.secret, body(type))), new RegExp(`"${type}" events do not deploy`), type);
  }
  await assertIgnored(r, await r.deliver(standard(r.secret, body('merge', 'refs/heads/feature'))), /does not deploy app, which follows refs\/heads\/main/, 'merge elsewhere');
  await assertIgnored(r, await r.deliver(standard(r.secret, { type: 'save', repo: 'me/app', timestamp: 1 })), /names no ref/, 'no ref');
  for (const type of ['save', 'merge']) {
    const a = await r.deliver(standard(r.secret, body(type, 'main')));
    assert.deepEqual([a.status, a.outcome], [202, 'queued'], `${type}: ${a.message}`);
  }
});

test('no branch known (no setting; the live release came from a tag): every push is ignored, saying how to choose one', async (t) => {
  const r = await receiver(t, { live: { ref: 'refs/tags/v1.0' } });
  const why = /app follows no branch .*toes config set app branch NAME/;
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ref: 'refs/heads/main', after: TIP })), why, 'GitHub push to main');
  await assertIgnored(r, await r.deliver(standard(r.secret, { type: 'save', repo: 'me/app', ref: 'refs/heads/main', timestamp: 1 })), why, 'rev.host save');
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ref: 'refs/tags/v2.0', after: TIP })), /is a tag/, 'a tag push');
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ref: 'refs/heads/main', after: ZEROS, deleted: true })), /a deletion never deploys/, 'a deletion');
  const never = await receiver(t, {});
  await assertIgnored(never, await never.deliver(gitea(never.secret, 'push', { ref: 'refs/heads/main', after: TIP })), why, 'never deployed');
});

test('with no setting, the branch of the live release is followed, for its own source only', async (t) => {
  const r = await receiver(t, { live: { ref: 'refs/heads/staging' } });
  await assertIgnored(r, await r.deliver(github(r.secret, 'push', { ref: 'refs/heads/main', after: TIP })), /which follows refs\/heads\/staging/, 'push to main');
  const a = await r.deliver(github(r.secret, 'push', { ref: 'refs/heads/staging', after: TIP }));
  assert.deepEqual([a.status, a.outcome], [202, 'queued'], a.message);
  // The saved source is another repository now: its branches are not the live release's.
  const moved = await receiver(t, { live: { ref: 'refs/heads/staging', source: 'https://git.example/me/old.git' } });
  await assertIgnored(moved, await moved.deliver(github(moved.secret, 'push', { ref: 'refs/heads/staging', after: TIP })), /follows no branch/, 'another source');
});

test('a Gitea or Forgejo form-encoded delivery is verified over the JSON they sign, and deploys', async (t) => {
  const r = await receiver(t, { branch: 'main' });
  const push = { ref: 'refs/heads/main', after: TIP, commits: [{ message: 'a + b = c & d%20 é' }] };
  const a = await r.deliver(gitea(r.secret, 'push', push, { form: true }));
  assert.deepEqual([a.status, a.outcome], [202, 'queued'], a.message);
  const f = await r.deliver(gitea(r.secret, 'push', push, { form: true, forgejo: true }));
  assert.deepEqual([f.status, f.outcome], [202, 'queued'], f.message);
  // GitHub signs the form body it sends: still accepted.
  const gh = await r.deliver(github(r.secret, 'push', push, { form: true }));
  assert.deepEqual([gh.status, gh.outcome], [202, 'queued'], gh.message);

  // Another secret, a changed body, or a Gitea signature over the form bytes: refused.
  const other = gitea('not the secret', 'push', push, { form: true });
  const tampered = gitea(r.secret, 'push', push, { form: true });
  tampered.body = Buffer.from(tampered.body.toString().replace('main', 'evil'));
  const sent = gitea(r.secret, 'push', push, { form: true, forgejo: true });
  const overForm = { body: sent.body, headers: { ...sent.headers, 'x-forgejo-signature': createHmac('sha256', r.secret).update(sent.body).digest('hex') } };
  for (const [what, d] of [['another secret', other], ['a tampered body', tampered], ['a signature over the form bytes', overForm]] as const) {
    const refused = await r.deliver(d);
    assert.deepEqual([refused.status, refused.outcome], [401, 'refused'], `${what}: ${refused.message}`);
  }
  // A second payload field, signed by no one, is never what is read.
  const extra = gitea(r.secret, 'push', push, { form: true });
  extra.body = Buffer.concat([extra.body, Buffer.from('&payload=' + encodeURIComponent(JSON.stringify({ ref: 'refs/heads/main', after: ZEROS })))]);
  const twice = await r.deliver(extra);
  assert.deepEqual([twice.status, twice.outcome], [202, 'queued'], twice.message);
});

test('refusals a sender must fix, direct or relayed, say what to check and are counted for the status and the page', async (t) => {
  const r = await receiver(t, { branch: 'main' });
  const push = { ref: 'refs/heads/main', after: TIP };
  assert.equal((await r.status()).refused, null);

  // A wrong secret, straight to the daemon: the 401 names the secret to use.
  const direct = await r.deliver(github('not the secret', 'push', push));
  assert.deepEqual([direct.status, direct.outcome], [401, 'refused']);
  assert.match(direct.message, /does not match this app's secret; check that the secret in the sender's webhook settings is the one `toes webhook enable app` printed/);
  // Relayed: the relay answered 202 long ago; the verdict is the receiver's return value,
  // and the daemon's log says it came through the relay.
  const relayed = await r.deliver(standard('whsec_' + Buffer.from('wrong key').toString('base64'), { type: 'save', repo: 'me/app', ref: 'main', timestamp: 1 }), 'relay');
  assert.deepEqual([relayed.status, relayed.outcome], [401, 'refused']);
  assert.match(relayed.message, /webhook-signature does not match this app's secret; check that/);
  const line = r.logged.filter((e) => e.event === 'refused').pop();
  assert.deepEqual([line?.status, line?.via, line?.reason], [401, 'relay', relayed.message]);
  const unsigned = await r.deliver({ headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }, 'relay');
  assert.match(unsigned.message, /not signed .*; sign deliveries with the secret `toes webhook enable app` printed/);
  assert.equal(r.queued(), undefined);

  let st = await r.status();
  assert.equal(st.refused?.count, 3);
  assert.equal(st.refused?.reason, unsigned.message);

  // Webhooks off: refused (403) with the command that turns them on, and counted too.
  await r.disable();
  const off = await r.deliver(github(r.secret, 'push', push), 'relay');
  assert.deepEqual([off.status, off.outcome], [403, 'refused']);
  assert.match(off.message, /webhooks are disabled for app; enable them with `toes webhook enable app`/);
  st = await r.status();
  assert.deepEqual([st.refused?.count, st.refused?.reason], [4, off.message]);
  // An hour later they are no longer news.
  assert.equal((await r.status(Date.now() + 3_700_000)).refused, null);
});
