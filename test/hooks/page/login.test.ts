// The settings page's login against the real daemon over real HTTP: without a session no
// request gets in, whatever Host or headers a script sends; a link logs in once; wrong,
// expired and revoked sessions fail; no token or session id reaches the log.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { test, type TestContext } from 'node:test';
import { ensureStopped, post, standard, startDaemon, type Daemon } from '../../fixtures/hooks.js';
import { ask, cookieOf, loginLink, postLogin, session, tokenOf } from '../../fixtures/page-login.js';
import { hookedWorld } from '../serve/hooked-world.js';
import { layoutOf } from '../layout.js';

/** The sample app with two releases (v2 live) and webhooks on, and the daemon serving it. */
async function twoReleases(t: TestContext, args: string[] = []) {
  const { w, secret } = await hookedWorld(t);
  w.repo.commit({ VERSION: 'v2\n' });
  const r = await w.toes(['deploy', 'sample']);
  assert.equal(r.code, 0, r.stderr);
  let d: Daemon | undefined = await startDaemon(w.data, { args });
  t.after(() => ensureStopped(d));
  const releases = [...new Set(w.releaseLog().map((x) => x.id))];
  return {
    w,
    secret,
    d: () => d!,
    v1: releases[0],
    v2: releases[1],
    async restart() {
      const port = new URL(d!.url).port;
      await d!.stop();
      d = await startDaemon(w.data, { args: [...args, '--port', port] });
      return d;
    },
  };
}

const hashes = (secret: string) => [createHash('sha256').update(secret).digest('hex'), createHash('sha256').update(secret).digest('base64url'), createHash('sha256').update(secret).digest('base64')];

/** No line of the daemon's output holds the secret or its hash. */
function notLogged(d: Daemon, secret: string, what: string) {
  for (const text of [d.out(), d.err()]) for (const s of [secret, ...hashes(secret)]) assert.ok(!text.includes(s), `${what} reached the daemon's log`);
}

test('the curl-style rollback is refused (401) and the app stays where it was; no Host or page header gets in without a session', async (t) => {
  const { w, secret, d, v1, v2 } = await twoReleases(t);
  const base = d().url;
  assert.equal(w.live(), v2);
  const logged = w.releaseLog().length;
  const json = { 'content-type': 'application/json', 'x-toes-page': '1' };

  // The attack from the issue, as curl sends it.
  const attack = await ask(base, '/apps/sample/rollback', { method: 'POST', headers: { host: '203.0.113.7', ...json }, body: JSON.stringify({ release: v1 }) });
  assert.equal(attack.status, 401, attack.text);
  assert.equal(JSON.parse(attack.text).ok, false);
  assert.equal(w.live(), v2, 'the app was rolled back');
  assert.equal(w.releaseLog().length, logged);

  // Every route, every name this machine answers to, with the page's headers: 401, and
  // nothing about the apps (not even whether one exists).
  const port = new URL(base).port;
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, 'toes.local', '203.0.113.7', `[::1]:${port}`, os.hostname()];
  const pages = ['/', '/?app=sample', '/apps/sample', '/apps/nosuchapp', '/apps/bad$name'];
  const data = ['/apps/sample/state', '/apps/sample/events'];
  const actions: [string, object][] = [
    ['/apps/sample/webhook', { enabled: false }],
    ['/apps/sample/token', { token: 'rt_planted_by_a_script' }],
    ['/apps/sample/deploy', {}],
    ['/apps/sample/rollback', { release: v1 }],
  ];
  for (const host of hosts) {
    for (const p of pages) {
      const a = await ask(base, p, { headers: { host, 'x-toes-page': '1' } });
      assert.equal(a.status, 401, `${host} ${p}`);
      assert.match(String(a.headers['content-type']), /^text\/html/);
      assert.match(a.text, /toes page/);
      for (const leak of ['sample', v1, v2, 'nosuchapp']) assert.ok(!a.text.includes(leak), `${p} showed ${leak} before a login`);
    }
    for (const p of data) {
      const a = await ask(base, p, { headers: { host, 'x-toes-page': '1' } });
      assert.equal(a.status, 401, `${host} ${p}`);
      assert.match(String(a.headers['content-type']), /^application\/json/);
      assert.ok(!a.text.includes(v2));
    }
    for (const [p, body] of actions) {
      const a = await ask(base, p, { method: 'POST', headers: { host, origin: `http://${host}`, ...json }, body: JSON.stringify(body) });
      assert.equal(a.status, 401, `${host} ${p}`);
    }
  }
  // A made-up or malformed session is no better.
  for (const cookie of [`toes_page_session_${port}=${'A'.repeat(43)}`, `toes_page_session_${port}=../../etc`, `toes_page_session_${port}=`]) {
    assert.equal((await ask(base, '/apps/sample/rollback', { method: 'POST', headers: { cookie, ...json }, body: JSON.stringify({ release: v1 }) })).status, 401);
  }

  // Nothing changed: still v2, webhooks on, no token, no deploy queued.
  assert.equal(w.live(), v2);
  assert.equal(w.releaseLog().length, logged);
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).webhookFile('sample'), 'utf8')).enabled, true);
  assert.ok(!fs.existsSync(layoutOf(w.data).appEnv('sample')));
  assert.ok(!d().events().some((e) => e.event === 'deploying' || e.event === 'page'));

  // Webhooks and /health need no login: signatures guard them.
  assert.equal((await ask(base, '/health')).status, 200);
  w.repo.commit({ VERSION: 'v3\n' });
  const hook = await post(base, '/hooks/sample', standard(secret, { type: 'save', repo: 'me/sample', ref: 'refs/heads/main', timestamp: new Date().toISOString() }));
  assert.equal(hook.status, 202, JSON.stringify(hook.body));
  await d().waitFor((e) => e.event === 'deployed', 'the webhook deploy');
});

test('a login link logs in once; wrong, expired and revoked sessions fail; sessions outlive a restart; nothing secret is logged', async (t) => {
  const { w, d, restart } = await twoReleases(t);
  const base = d().url;
  const port = new URL(base).port;

  // Without a terminal, the start-up log says how to log in and holds no link.
  const start = await d().waitFor((e) => e.event === 'login', 'the login note at start');
  assert.match(start.note, /toes page/);
  assert.doesNotMatch(d().out(), /\/login#/);

  // `toes page --json`: a new link to where the daemon listens.
  const link = await loginLink(w.data);
  assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${port}/login#[A-Za-z0-9_-]{43}$`));
  const token = tokenOf(link);

  // The token only counts in the POST the login page makes: never from a URL.
  const viaQuery = await ask(base, `/login?token=${token}`);
  assert.equal(viaQuery.status, 200);
  assert.equal(cookieOf(viaQuery), undefined);
  assert.ok(!viaQuery.text.includes(token));
  assert.equal((await postLogin(base, token, { 'x-toes-page': '' })).status, 403);
  assert.equal((await postLogin(base, token, { origin: 'http://evil.example' })).status, 403);
  assert.equal((await postLogin(base, 'B'.repeat(43))).status, 401);

  const ok = await postLogin(base, token);
  assert.equal(ok.status, 200, ok.text);
  const setCookie = [ok.headers['set-cookie']].flat()[0]!;
  assert.match(setCookie, new RegExp(`^toes_page_session_${port}=[A-Za-z0-9_-]{43};`));
  for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(setCookie.includes(`; ${attr}`), `${attr} missing: ${setCookie}`);
  assert.ok(!/Secure/.test(setCookie), 'Secure over plain http');
  assert.ok(Number(/Max-Age=(\d+)/.exec(setCookie)![1]) > 29 * 86_400);
  const cookie = cookieOf(ok)!;
  const sessionId = cookie.split('=')[1];
  assert.equal((await postLogin(base, token)).status, 401, 'a link worked twice');

  const state = await ask(base, '/apps/sample/state', { headers: { cookie } });
  assert.equal(state.status, 200);
  assert.equal(JSON.parse(state.text).app, 'sample');
  assert.equal((await ask(base, '/apps/sample/events', { headers: { cookie } })).status, 200);

  // Over https (TLS in a proxy in front), the cookie is Secure.
  const https = await postLogin(base, tokenOf(await loginLink(w.data)), { host: `toes.local:${port}`, origin: `https://toes.local:${port}` });
  assert.equal(https.status, 200, https.text);
  assert.match([https.headers['set-cookie']].flat()[0]!, /; Secure/);

  // At rest: mode 0600, hashes only.
  const file = layoutOf(w.data).pageLoginFile;
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const stored = fs.readFileSync(file, 'utf8');
  assert.ok(!stored.includes(token) && !stored.includes(sessionId));
  assert.ok(stored.includes(createHash('sha256').update(sessionId).digest('hex')));

  // Expired: the same session with its expiry in the past.
  const expired = await session(base, w.data);
  const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
  const h = createHash('sha256').update(expired.split('=')[1]).digest('hex');
  onDisk.sessions.find((s: any) => s.hash === h).expiresAt = new Date(Date.now() - 1000).toISOString();
  fs.writeFileSync(file, JSON.stringify(onDisk));
  assert.equal((await ask(base, '/apps/sample/state', { headers: { cookie: expired } })).status, 401);
  assert.equal((await ask(base, '/apps/sample/state', { headers: { cookie } })).status, 200);

  // A restart keeps sessions.
  const before = d();
  await restart();
  assert.equal((await ask(base, '/apps/sample/state', { headers: { cookie } })).status, 200);

  // Revoked: every session and every unused link stop working.
  const unused = tokenOf(await loginLink(w.data));
  const rv = await w.toes(['page', '--revoke', '--json']);
  assert.equal(rv.code, 0, rv.stderr);
  assert.ok(rv.json().revoked.sessions >= 2 && rv.json().revoked.links >= 1, rv.stdout);
  assert.equal((await ask(base, '/apps/sample/state', { headers: { cookie } })).status, 401);
  assert.equal((await ask(base, '/apps/sample', { headers: { cookie } })).status, 401);
  assert.equal((await postLogin(base, unused)).status, 401);
  await d().waitFor((e) => e.event === 'refused' && e.reason?.includes('not valid (expired or revoked)'), 'the revoked session refused');

  for (const daemon of [before, d()]) {
    for (const [s, what] of [[token, 'a login token'], [unused, 'a login token'], [sessionId, 'a session id'], [expired.split('=')[1], 'a session id']] as const) notLogged(daemon, s, what);
  }
});

test('toes page without a daemon prints a link to the default address; --revoke says what it did', async (t) => {
  const { w } = await hookedWorld(t);
  const r = await w.toes(['page', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.json().url, /^http:\/\/127\.0\.0\.1:7420\/login#[A-Za-z0-9_-]{43}$/);
  assert.equal(r.json().daemon, false);
  const text = await w.toes(['page']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /http:\/\/127\.0\.0\.1:7420\/login#/);
  assert.match(text.stderr, /toes serve is not running/);
  const rv = await w.toes(['page', '--revoke']);
  assert.equal(rv.code, 0, rv.stderr);
  assert.match(rv.stdout, /voided 2 unused login links/);
  const bad = await w.toes(['serve', '--page-port', 'x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--page-port takes a port number/);
});

test('--page-host puts the page on its own listener; the main one answers only webhooks and /health', async (t) => {
  const { w, secret, d } = await twoReleases(t, ['--page-host', '127.0.0.1', '--page-port', '0']);
  const hooks = d().url;
  const listening = d().events().find((e) => e.event === 'listening');
  const page = listening.page as string;
  assert.ok(page && page !== hooks, JSON.stringify(listening));
  assert.equal((await d().waitFor((e) => e.event === 'login', 'the login note at start')).page, page);
  assert.ok((await loginLink(w.data)).startsWith(`${page}/login#`));

  for (const p of ['/', '/login', '/apps/sample', '/assets/page.js']) assert.equal((await ask(hooks, p)).status, 404, `${p} on the webhook address`);
  assert.equal((await ask(hooks, '/health')).status, 200);
  const hook = await post(hooks, '/hooks/sample', standard(secret, { type: 'save', repo: 'me/sample', ref: 'refs/heads/main', timestamp: new Date().toISOString() }));
  assert.equal(hook.status, 202, JSON.stringify(hook.body));

  assert.equal((await ask(page, '/login')).status, 200);
  assert.equal((await ask(page, '/apps/sample')).status, 401);
  assert.equal((await ask(page, '/health')).status, 200);
  const onPage = await post(page, '/hooks/sample', standard(secret, { type: 'save', repo: 'me/sample', ref: 'refs/heads/main', timestamp: new Date().toISOString() }));
  assert.equal(onPage.status, 404);
  const cookie = await session(page, w.data);
  assert.equal((await ask(page, '/apps/sample/state', { headers: { cookie } })).status, 200);
});

test('at a terminal, toes serve prints a one-time login link there (and still not into its log)', async (t) => {
  const { w } = await hookedWorld(t);
  const data = w.data;
  // `script` gives the daemon a pseudo-terminal, as a person starting it by hand would.
  const { spawn } = await import('node:child_process');
  const { cliPath, cliEnv } = await import('../../fixtures/cli.js');
  const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} serve --port 0`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: cliEnv(data), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  const deadline = Date.now() + 20_000;
  while (!/login#[A-Za-z0-9_-]{43}/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const m = /(http:\/\/[^\s]+\/login#[A-Za-z0-9_-]{43})/.exec(out);
  assert.ok(m, `no login link on the terminal: ${out}`);
  const base = m[1].slice(0, m[1].indexOf('/login#'));
  assert.equal((await postLogin(base, tokenOf(m[1]))).status, 200, 'the printed link logs in');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
});
