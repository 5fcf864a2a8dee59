// The settings page tells the truth on any screen, in a real headless Chromium against the
// real daemon: no sideways scrolling at 320, 390 and 1280 px with every button in reach;
// each notice belongs to one action and is gone once the state it describes is over; a
// failed deploy shows its reason and its log; refused deliveries show on the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { supervisedWorld, webApp } from '../../../fixtures/apps.js';
import { launch, shot } from '../../../fixtures/browser.js';
import { ensureStopped, github, post, startDaemon } from '../../../fixtures/hooks.js';
import { browserLogin } from '../../../fixtures/page-login.js';
import { fits } from './fits.js';
import { withPredeploy } from './predeploy-app.js';

const notice = (page: Page) => page.evaluate(() => document.getElementById('notice')?.textContent ?? '');
const noticed = (page: Page, re: string) => page.waitForFunction((r) => new RegExp(r).test(document.getElementById('notice')?.textContent ?? ''), re);
const noticeGone = (page: Page, timeout = 30_000) => page.waitForFunction(() => (document.getElementById('notice')?.textContent ?? '') === '', undefined, { timeout });

test('no sideways scrolling from 320 px up; notices end with their state; a failed deploy shows its reason and log; refusals show', async (t) => {
  const { w, env } = await supervisedWorld(t);
  for (const v of ['v1', 'v2', 'v2b']) {
    if (v !== 'v1') w.repo.commit(webApp(v));
    const r = await w.toes(['deploy', 'sample', '--from', w.url], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  const en = await w.toes(['webhook', 'enable', 'sample', '--json']);
  assert.equal(en.code, 0, en.stderr);
  const d = await startDaemon(w.data, { env });
  t.after(() => ensureStopped(d));
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: d.url });
  const page = await context.newPage();
  await browserLogin(page, w.data);
  await fits(page, 'the list of apps at 390 px');

  await page.goto(`${d.url}/apps/sample`);
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  assert.equal(await page.locator('button.rollback').count(), 2);
  await fits(page, 'the app page at 390 px');
  await shot(page, '20-narrow-390');

  // The token's tail shows once.
  await page.fill('#token', 'rt_live_5ecret_c123');
  await page.click('#token-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('token-tail')?.textContent === 'rt_…c123');
  assert.equal(((await page.textContent('main')) ?? '').split('c123').length - 1, 1);
  assert.equal(await page.getAttribute('#token', 'placeholder'), 'paste a new token to replace it');
  // A confirmation fades; "Copied" turns back into "Copy".
  await noticeGone(page);
  await page.click('#copy-url');
  await noticed(page, '^URL copied$');
  assert.equal(await page.textContent('#copy-url'), 'Copied');
  await page.waitForFunction(() => document.getElementById('copy-url')?.textContent === 'Copy');
  await noticeGone(page);

  // "Deploying" and "already running" last as long as the deploy.
  w.repo.commit(withPredeploy('v3', 'echo building v3; sleep 2; echo built v3'));
  await page.click('#deploy-now');
  await noticed(page, '^Deploying sample');
  assert.equal(await page.getAttribute('#notice', 'class'), 'ok');
  await page.click('#deploy-now');
  await noticed(page, 'already running');
  assert.equal(await page.getAttribute('#notice', 'class'), 'error');
  await d.waitFor((e) => e.event === 'deployed', 'the deploy of v3', 60_000);
  await noticeGone(page);
  await page.waitForFunction(() => /^live/.test(document.getElementById('last-deploy')?.textContent ?? ''));

  // A failed Deploy Now: its green "Deploying" goes; Last deploy says why, with the log.
  w.repo.commit(withPredeploy('v4', 'echo the build broke here; exit 3'));
  await page.click('#deploy-now');
  await noticed(page, '^Deploying sample');
  await d.waitFor((e) => e.event === 'failed', 'the failed deploy', 60_000);
  await noticeGone(page);
  await page.waitForSelector('#last-deploy .reason');
  const reason = (await page.textContent('#last-deploy .reason')) ?? '';
  assert.match(reason, /predeploy/i);
  assert.ok(!reason.includes('\n'));
  const logHref = (await page.getAttribute('#last-deploy a', 'href'))!;
  const log = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, text: await r.text() };
  }, logHref);
  assert.equal(log.status, 200);
  assert.match(log.text, /the build broke here/);
  await fits(page, 'the app page with a failure at 390 px');
  await shot(page, '21-failed-390');

  // Deliveries with the wrong secret: the sender got 401 saying what to check; the page counts them.
  for (let i = 0; i < 2; i++) {
    const r = await post(d.url, '/hooks/sample', github('not the secret', 'push', { ref: 'refs/heads/main', after: 'a'.repeat(40) }));
    assert.equal(r.status, 401);
    assert.match(r.body.message, /the one `toes webhook enable sample` printed/);
  }
  await page.waitForFunction(() => /^2 deliveries refused in the last hour: X-Hub-Signature-256 does not match this app's secret; check that/.test(document.getElementById('refused')?.textContent ?? ''), undefined, { timeout: 15_000 });
  await fits(page, 'the app page with refusals at 390 px');
  const st = await w.toes(['webhook', 'status', 'sample']);
  assert.match(st.stdout, /refused: {2}2 deliveries in the last hour, the newest at \S+: X-Hub-Signature-256 does not match/);

  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.reload();
    await page.waitForSelector('#releases');
    await fits(page, `the app page at ${width} px`);
    await shot(page, `22-app-${width}`);
  }
  assert.equal(await notice(page), '');
});
