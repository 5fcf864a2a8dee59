// Deploy outcomes on the settings page, in a real headless Chromium against the real daemon:
// a signed GitHub push (its repository.html_url naming a loopback GitHub Enterprise that
// speaks the statuses API) deploys; each release links its commit on that forge, and "Last
// deploy" says where its status went and how that ended, or why none was sent. The live
// log escapes the build's control characters as the rendered page does. No token reaches
// the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { launch, shot } from '../../../fixtures/browser.js';
import { ensureStopped, github, post, startDaemon } from '../../../fixtures/hooks.js';
import { browserLogin } from '../../../fixtures/page-login.js';
import { forgeServer } from '../../notify/servers.js';
import { hookedWorld } from '../../serve/hooked-world.js';
import { fits } from './fits.js';

const TOKEN = 'ghp_page_test_token_0123456789';

const forgeStatus = (page: Page, re: string) =>
  page.waitForFunction((r) => new RegExp(r).test(document.getElementById('forge-status')?.textContent ?? ''), re, { timeout: 30_000 });

test('releases link their commit on the forge; Last deploy says where its status went (success, failure) or why none was sent; the live log escapes controls', async (t) => {
  const { w, secret } = await hookedWorld(t);
  const forge = await forgeServer(t, 'github', { token: TOKEN, repo: 'me/app', prefix: '/api/v3' });
  const host = new URL(forge.url).host;
  assert.equal((await w.toes(['env', 'set', 'sample', 'FORGE_TOKEN', '--host', host], { input: TOKEN })).code, 0);
  const d = await startDaemon(w.data);
  t.after(() => ensureStopped(d));
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await browserLogin(page, w.data);
  await page.goto(`${d.url}/apps/sample`);
  await page.waitForFunction(() => document.getElementById('link-state')?.textContent === 'live');
  const push = (sha: string) => post(d.url, '/hooks/sample', github(secret, 'push', { ref: 'refs/heads/main', after: sha, repository: { html_url: `${forge.url}/me/app` } }));
  const commitUrl = (sha: string) => `${forge.url}/me/app/commit/${sha}`;

  // A good push: its status is sent, and the page links the commit.
  const v2 = w.repo.commit({ VERSION: 'v2\n' });
  assert.equal((await push(v2)).status, 202);
  await forge.waitFor((s) => s.body?.state === 'success', 'the success status');
  await forgeStatus(page, '^status sent to github me/app: success$');
  const live = (await page.getAttribute('tr.live', 'data-release'))!;
  assert.equal(await page.getAttribute(`tr[data-release="${live}"] td[data-label="Version"] a`, 'href'), commitUrl(v2));
  assert.equal(await page.getAttribute('#forge-status a', 'href'), commitUrl(v2));
  await fits(page, 'the app page with a sent status at 390 px');
  await shot(page, '30-status-sent-390');

  // A push whose predeploy fails, its output carrying an ESC sequence and a bidi override
  // after a pause, so it reaches the open page through the live stream.
  const bad = w.repo.commit({ 'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { predeploy: "echo start; sleep 1; printf 'ctl \\033[31m zz9 \\342\\200\\256 x\\n'; sleep 2; exit 3" } }) });
  assert.equal((await push(bad)).status, 202);
  // Its output, escaped or not (the echoed command line has the octal escapes, not these).
  await page.waitForFunction(() => /x1b\[31m zz9|\u001b\[31m zz9/.test(document.getElementById('log-text')?.textContent ?? ''), undefined, { timeout: 30_000 });
  const streamed = (await page.textContent('#log-text')) ?? '';
  assert.match(streamed, /ctl \\x1b\[31m zz9 \\u202e x/);
  assert.doesNotMatch(streamed, /[\u001b\u202e]/);
  await forge.waitFor((s) => s.body?.state === 'failure', 'the failure status');
  await forgeStatus(page, '^status sent to github me/app: failure$');
  assert.equal(await page.getAttribute('#forge-status a', 'href'), commitUrl(bad));
  assert.equal(await page.getAttribute('tr.live', 'data-release'), live, 'the failed deploy changed what is live');
  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.reload();
    await page.waitForSelector('#forge-status');
    await fits(page, `the app page with a failure status at ${width} px`);
    await shot(page, `31-status-failure-${width}`);
  }

  // Without a token nothing is sent, and the page says why and what to do.
  assert.equal((await w.toes(['env', 'unset', 'sample', 'FORGE_TOKEN'])).code, 0);
  const v4 = w.repo.commit({ 'package.json': JSON.stringify({ name: 'sample', version: '1.0.0' }), VERSION: 'v4\n' });
  assert.equal((await push(v4)).status, 202);
  await forgeStatus(page, `^no status sent: no FORGE_TOKEN for ${host.replace(/\./g, '\\.')}: set one with \`toes env set sample FORGE_TOKEN\``);
  assert.equal(await page.getAttribute(`tr.live td[data-label="Version"] a`, 'href'), commitUrl(v4));
  await fits(page, 'the app page with no status at 1280 px');
  for (const text of [await page.content(), d.out(), d.err()]) assert.ok(!text.includes(TOKEN), 'the forge token reached the page or the log');
});
