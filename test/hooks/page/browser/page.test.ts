// The settings page in a real headless Chromium, against the real daemon, a real git
// server, and a Toes-like supervisor running the app: what a user clicks and what the app
// then answers over HTTP. Each browser logs in first with a link from `toes page`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { answer, supervisedWorld, webApp } from '../../../fixtures/apps.js';
import { launch, newPage, shot } from '../../../fixtures/browser.js';
import { ensureStopped, startDaemon, type Daemon } from '../../../fixtures/hooks.js';
import { browserLogin, session, tokenOf } from '../../../fixtures/page-login.js';
import type { World } from '../../../fixtures/world.js';
import { layoutOf } from '../../layout.js';
import { eventReceiver } from '../../notify/servers.js';
import { withPredeploy } from './predeploy-app.js';

async function setup(t: TestContext): Promise<{ w: World; port: number; env: Record<string, string>; browser: Browser; d: () => Daemon; restart(): Promise<Daemon> }> {
  const { w, port, env } = await supervisedWorld(t);
  const browser = await launch();
  let daemon: Daemon | undefined;
  t.after(async () => {
    await browser.close();
    await ensureStopped(daemon);
  });
  const d1 = await w.toes(['deploy', 'sample', '--from', w.url], { env });
  assert.equal(d1.code, 0, d1.stderr);
  daemon = await startDaemon(w.data, { env });
  return {
    w,
    port,
    env,
    browser,
    d: () => daemon!,
    async restart() {
      const port = new URL(daemon!.url).port;
      await daemon!.stop();
      daemon = await startDaemon(w.data, { env, args: ['--port', port] });
      return daemon;
    },
  };
}

/** Waits until the page's notice line matches (functions, not strings: the page's CSP forbids eval). */
const noticed = (page: import('playwright-core').Page, re: string) =>
  page.waitForFunction((r) => new RegExp(r).test(document.getElementById('notice')?.textContent ?? ''), re);

test('enable webhooks, copy the URL, set and clear the token: only a masked tail is ever shown', async (t) => {
  const { w, browser, d } = await setup(t);
  const { page } = await newPage(browser, d().url);
  const link = await browserLogin(page, w.data);
  await page.goto(`${d().url}/`);
  await page.waitForSelector('tr[data-app="sample"]');
  assert.match((await page.textContent('tr[data-app="sample"]')) ?? '', /live/);
  await shot(page, '01-index');

  await page.click('a[href="/apps/sample"]');
  await page.waitForSelector('#hook-toggle');
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  assert.equal(await page.isChecked('#hook-toggle'), false);
  await shot(page, '02-app-webhooks-off');

  await page.check('#hook-toggle');
  await page.waitForSelector('#hook-url');
  const url = await page.inputValue('#hook-url');
  assert.equal(url, `${d().url}/hooks/sample`);
  await page.click('#copy-url');
  await noticed(page, '^URL copied$');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).webhookFile('sample'), 'utf8')).enabled, true);
  await shot(page, '03-app-webhooks-on');

  const token = 'rt_live_5ecret_c123';
  await page.fill('#token', token);
  await page.click('#token-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('token-tail')?.textContent === 'rt_…c123');
  await page.reload();
  await page.waitForSelector('#token-tail');
  assert.equal(await page.textContent('#token-tail'), 'rt_…c123');
  const htmlText = await page.content();
  assert.ok(!htmlText.includes(token) && !htmlText.includes('5ecret'), 'the token reached the page');
  const secret = JSON.parse(fs.readFileSync(layoutOf(w.data).webhookFile('sample'), 'utf8')).secret;
  assert.ok(!htmlText.includes(secret) && !htmlText.includes(secret.slice(6, 20)), 'the signing secret reached the page');
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).appEnv('sample'), 'utf8')).REV_TOKEN, token);
  await shot(page, '04-token-set');

  // A token with a space is refused and changes nothing.
  await page.fill('#token', 'rt_bad token');
  await page.click('#token-form button[type=submit]');
  await noticed(page, 'cannot be empty or contain spaces');
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).appEnv('sample'), 'utf8')).REV_TOKEN, token);
  await page.click('#token-clear');
  await page.waitForFunction(() => document.getElementById('token-tail')?.textContent === '');
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).appEnv('sample'), 'utf8')).REV_TOKEN, undefined);
  for (const text of [d().out(), d().err()]) assert.ok(!text.includes(token) && !text.includes(secret) && !text.includes(tokenOf(link)));

  // Off again: the daemon refuses deliveries.
  await page.uncheck('#hook-toggle');
  await page.waitForFunction(() => !document.getElementById('hook-url'));
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).webhookFile('sample'), 'utf8')).enabled, false);
});

test('Deploy Now streams the log and goes live; a second click is told one runs; Rollback moves the live marker and the app answers the old version', async (t) => {
  const { w, port, env, browser, d } = await setup(t);
  const { page } = await newPage(browser, d().url);
  await browserLogin(page, w.data);
  await page.goto(`${d().url}/?app=sample`); // as the Toes dashboard's iframe asks for it
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  const v1 = (await page.getAttribute('tr.live', 'data-release'))!;

  // v2 has a predeploy that takes a moment, so the running state can be seen.
  // Over 64 KiB of output, so the live log must read on past its first tail.
  w.repo.commit(withPredeploy('v2', "echo building v2; sleep 1; head -c 100000 /dev/zero | tr '\\0' x; echo; echo built v2"));
  await page.click('#deploy-now');
  await noticed(page, 'Deploying sample');
  await page.click('#deploy-now');
  await noticed(page, 'already running');
  await page.waitForFunction(() => /building v2/.test(document.getElementById('log-text')?.textContent ?? ''), undefined, { timeout: 20_000 });
  await shot(page, '05-deploy-running');
  await page.waitForFunction((old) => {
    const live = document.querySelector('tr.live');
    return !!live && live.getAttribute('data-release') !== old;
  }, v1, { timeout: 30_000 });
  // The swap shows first; the deploy ends once the app restarted and answered its health check.
  await d().waitFor((e) => e.event === 'deployed', 'the deploy to end');
  await page.waitForFunction(() => /^live/.test(document.getElementById('last-deploy')?.textContent ?? '') && !document.getElementById('deploy-state')?.textContent);
  assert.match((await page.textContent('#log-text')) ?? '', /built v2/);
  assert.equal(await answer(port), 'v2');
  assert.equal(d().events().filter((e) => e.event === 'deploying').length, 1);
  await shot(page, '06-deployed');

  // Roll back from the page: the live marker moves, the app over HTTP is v1 again, and a receiver hears of it.
  const receiver = await eventReceiver(t);
  const added = await w.toes(['notify', 'add', 'sample', `${receiver.url}/hook`, '--json'], { env });
  assert.equal(added.code, 0, added.stderr);
  receiver.secret = added.json().secret;
  await page.click(`button.rollback[data-release="${v1}"]`);
  await page.waitForFunction((old) => document.querySelector('tr.live')?.getAttribute('data-release') === old, v1, { timeout: 20_000 });
  await noticed(page, `is live at ${v1} again`); // the rollback has restarted the app and checked it
  assert.equal(await answer(port), 'v1');
  const rolled = await receiver.waitFor((x) => x.body?.type === 'deploy.rolled_back', 'deploy.rolled_back');
  assert.equal(rolled.verified, true);
  assert.deepEqual([rolled.body.data.app, rolled.body.data.release, rolled.body.data.reason, rolled.body.data.automatic], ['sample', v1, 'rolled back by page', false]);
  await shot(page, '07-rolled-back');

  // A release pruned after the page was loaded: refused with a sentence, nothing changes.
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '1'])).code, 0);
  w.repo.commit(webApp('v3'));
  assert.equal((await w.toes(['deploy', 'sample'], { env })).code, 0);
  // v2 (rolled back) is beyond keep=1 now; v3 is live and v1 the one before it.
  const pruned = [...new Set(w.releaseLog().filter((r) => r.pruned).map((r) => r.id))];
  assert.equal(pruned.length, 1, JSON.stringify(w.releaseLog())); // v2; v1 is kept as the one before the live v3
  const gone = await page.evaluate(async (id) => {
    const r = await fetch('/apps/sample/rollback', { method: 'POST', headers: { 'content-type': 'application/json', 'x-toes-page': '1' }, body: JSON.stringify({ release: id }) });
    return { status: r.status, body: await r.json() };
  }, pruned[0]);
  assert.equal(gone.status, 404, JSON.stringify(gone));
  assert.match(gone.body.message, /prun/i);
  assert.equal(await answer(port), 'v3');
  // A token with a line break, sent by hand: refused, nothing stored.
  const nl = await page.evaluate(async () => {
    const r = await fetch('/apps/sample/token', { method: 'POST', headers: { 'content-type': 'application/json', 'x-toes-page': '1' }, body: JSON.stringify({ token: 'rt_a\nb' }) });
    return r.status;
  });
  assert.equal(nl, 400);
  assert.ok(!fs.existsSync(layoutOf(w.data).appEnv('sample')) || !('REV_TOKEN' in JSON.parse(fs.readFileSync(layoutOf(w.data).appEnv('sample'), 'utf8'))));
});

test('cross-site requests, odd names and unknown apps are refused even with a session; the page reconnects after the daemon restarts', async (t) => {
  const { w, browser, d, restart } = await setup(t);
  const base = d().url;
  // A logged-in browser's cookie: the checks below are the defences around the login.
  const cookie = await session(base, w.data);
  const post = (path: string, headers: Record<string, string>) => fetch(`${base}${path}`, { method: 'POST', headers: { cookie, ...headers }, body: '{"enabled":true}' });
  assert.equal((await post('/apps/sample/webhook', { 'content-type': 'application/json' })).status, 403); // no page header
  assert.equal((await post('/apps/sample/webhook', { 'content-type': 'text/plain', 'x-toes-page': '1' })).status, 403); // a form-like post
  assert.equal((await post('/apps/sample/webhook', { 'content-type': 'application/json', 'x-toes-page': '1', origin: 'http://evil.example' })).status, 403);
  // A page elsewhere whose name resolves here (DNS rebinding) sends its own Host: refused.
  const rebound = await new Promise<number>((resolve, reject) => {
    const u = new URL(base);
    const req = http.request({ hostname: u.hostname, port: u.port, path: '/apps/sample/webhook', method: 'POST', headers: { cookie, host: `evil.example:${u.port}`, origin: `http://evil.example:${u.port}`, 'content-type': 'application/json', 'x-toes-page': '1' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end('{"enabled":true}');
  });
  assert.equal(rebound, 403);
  assert.ok(!fs.existsSync(layoutOf(w.data).webhookFile('sample')), 'a refused action changed something');
  assert.equal((await fetch(`${base}/apps/nosuchapp`, { headers: { cookie } })).status, 404);
  assert.equal((await fetch(`${base}/apps/bad$name`, { headers: { cookie } })).status, 400);
  assert.equal((await fetch(`${base}/?app=..%2Fetc`, { headers: { cookie } })).status, 400);

  const { page } = await newPage(browser, base);
  await browserLogin(page, w.data);
  await page.goto(`${base}/apps/sample`);
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  await restart();
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live', undefined, { timeout: 15_000 });
  // After the restart the page still acts.
  await page.check('#hook-toggle');
  await page.waitForSelector('#hook-url');
  await shot(page, '08-after-daemon-restart');
});
