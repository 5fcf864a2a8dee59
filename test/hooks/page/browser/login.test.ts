// Logging in to the settings page in a real headless Chromium: the link from `toes page`,
// watched through a recording proxy to prove its token never travels in a URL; and the
// page inside a Toes-like dashboard (an iframe given ?app=), with browser-side names
// (toes.local, dash.example) mapped to this machine.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { launch, newPage, shot } from '../../../fixtures/browser.js';
import { ensureStopped, startDaemon, type Daemon } from '../../../fixtures/hooks.js';
import { loginLink, tokenOf } from '../../../fixtures/page-login.js';
import { startProxy } from '../../../fixtures/proxy.js';
import { hookedWorld } from '../../serve/hooked-world.js';
import { layoutOf } from '../../layout.js';

async function daemonFor(t: TestContext, data: string, env: Record<string, string> = {}): Promise<Daemon> {
  const d = await startDaemon(data, { env });
  t.after(() => ensureStopped(d));
  return d;
}

const noticed = (page: Page, re: string) => page.waitForFunction((r) => new RegExp(r).test(document.getElementById('notice')?.textContent ?? ''), re);

/** Each request's line and headers as sent, bodies left out. */
const heads = (raw: string) => raw.match(/(?:GET|POST|HEAD|PUT|DELETE|OPTIONS) [^\r\n]* HTTP\/1\.[01]\r\n[\s\S]*?\r\n\r\n/g) ?? [];

test('a login link logs the browser in; its token never reaches a URL the server sees, the page, the address bar or the log', async (t) => {
  const { w } = await hookedWorld(t);
  const d = await daemonFor(t, w.data);
  const proxy = await startProxy(Number(new URL(d.url).port), { record: true });
  t.after(() => proxy.close());
  const base = `http://127.0.0.1:${proxy.port}`;
  const browser = await launch();
  t.after(() => browser.close());
  const { page } = await newPage(browser, base);

  // Not logged in: the app's page is the login page, and says how to get a link.
  const first = await page.goto(`${base}/apps/sample`);
  assert.equal(first!.status(), 401);
  assert.ok(!(await first!.text()).includes('sample'), 'the login page showed an app');
  await page.waitForSelector('#login-form');
  assert.match((await page.textContent('main')) ?? '', /toes page/);
  await shot(page, '10-login');

  const link = await loginLink(w.data);
  const token = tokenOf(link);
  await page.goto(base + link.slice(link.indexOf('/login')));
  await page.waitForURL((u) => u.pathname === '/');
  await page.waitForSelector('tr[data-app="sample"]');
  assert.ok(!page.url().includes(token));
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is readable by scripts');
  assert.ok(!(await page.content()).includes(token));

  await page.goto(`${base}/apps/sample`);
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  assert.ok(!(await page.content()).includes(token));
  await page.goBack();
  await page.waitForURL((u) => u.pathname === '/');
  assert.ok(!page.url().includes(token), 'the token stayed in the history');

  // What the browser sent: the token once, in the login POST's body; in no request line,
  // no Referer, no header.
  const sent = proxy.sent();
  assert.equal(sent.split(token).length, 2, 'the token was sent more than once');
  assert.ok(heads(sent).length >= 5);
  for (const h of heads(sent)) assert.ok(!h.includes(token), `the token was in a request head:\n${h}`);
  assert.ok(heads(sent).some((h) => h.startsWith('POST /login ')));
  const hash = createHash('sha256').update(token).digest();
  for (const text of [d.out(), d.err()]) for (const s of [token, hash.toString('hex'), hash.toString('base64url')]) assert.ok(!text.includes(s), 'the token reached the log');

  // Revoked while open: an action says to log in again, and a reload shows the login page.
  await page.goto(`${base}/apps/sample`);
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  const rv = await w.toes(['page', '--revoke']);
  assert.equal(rv.code, 0, rv.stderr);
  await page.click('#deploy-now');
  await noticed(page, 'Log in first');
  assert.ok(!d.events().some((e) => e.event === 'deploying'));
  await page.reload();
  await page.waitForSelector('#login-form');
});

/** A Toes-like dashboard: the tool in an iframe given ?app=, and a plain link to it. */
async function dashboard(t: TestContext): Promise<{ port: number; target: { url: string } }> {
  const target = { url: '' };
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Toes</title><h1>Toes</h1><a id="open" href="${target.url}/apps/sample">Rev</a>
<iframe src="${target.url}/?app=sample" width="980" height="760"></iframe>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, target };
}

test('inside the Toes dashboard: on the same host name the link pasted in the frame logs in and the tool works; a dashboard on another site gets the login page, which says to open a tab', async (t) => {
  const { w } = await hookedWorld(t);
  const dash = await dashboard(t);
  // The dashboard's origin elsewhere is allowed to frame the page (TOES_URL), so what is
  // tested below is the cookie, not the frame policy.
  const d = await daemonFor(t, w.data, { TOES_URL: `http://dash.example:${dash.port}` });
  const port = new URL(d.url).port;
  dash.target.url = `http://toes.local:${port}`;
  const browser = await launch({ names: ['toes.local', 'dash.example'] });
  t.after(() => browser.close());
  const { page } = await newPage(browser, dash.target.url);

  // Same site (toes.local, other ports): the frame shows the login page; paste the link.
  await page.goto(`http://toes.local:${dash.port}/`);
  const frame = page.frameLocator('iframe');
  await frame.locator('#login-form').waitFor();
  assert.equal(await frame.locator('.in-frame').isVisible(), true);
  assert.ok(!((await frame.locator('body').textContent()) ?? '').includes('sample'));
  await frame.locator('#login-link').fill(await loginLink(w.data));
  await frame.locator('#login-form button[type=submit]').click();
  await frame.locator('main[data-app="sample"]').waitFor();
  await frame.locator('#link-state', { hasText: /^live$/ }).waitFor();
  await frame.locator('#hook-toggle').uncheck();
  await frame.locator('#hook-state', { hasText: 'disabled' }).waitFor();
  assert.equal(JSON.parse(fs.readFileSync(layoutOf(w.data).webhookFile('sample'), 'utf8')).enabled, false);
  await shot(page, '11-dashboard-same-site');

  // Another site frames it: a SameSite=Strict cookie is not sent there, so the frame shows
  // the login page, which finds its cookies do not arrive and says to open a tab (before
  // spending a link), with nothing about the apps.
  await page.goto(`http://dash.example:${dash.port}/`);
  await frame.locator('#notice', { hasText: 'Open it in its own tab' }).waitFor();
  assert.equal(await frame.locator('main[data-app]').count(), 0);
  assert.ok(!((await frame.locator('body').textContent()) ?? '').includes('sample'));
  await shot(page, '12-dashboard-other-site');

  // A plain link from that site opens the page in the tab: the navigation carries no
  // SameSite=Strict cookie, so the login page asks, same-site, and goes on to the page.
  await page.click('#open');
  await page.waitForSelector('main[data-app="sample"]');
  assert.equal(new URL(page.url()).pathname, '/apps/sample');
});
