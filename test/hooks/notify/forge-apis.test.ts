// Commit statuses against loopback servers that speak GitHub's, Forgejo's and GitLab's
// statuses APIs as documented: the outbox's sender, real HTTP, a temporary DATA_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import type { OpResult } from '../../../src/activate/result.js';
import { chooseForge, forgeAt, forgeFromSource } from '../../../src/hooks/notify/forge.js';
import { forgeToken } from '../../../src/hooks/notify/forge-status.js';
import { list } from '../../../src/hooks/notify/outbox.js';
import { readNotifyState } from '../../../src/hooks/notify/outcomes.js';
import { noteOutcome, noteStarted } from '../../../src/hooks/notify/record.js';
import { Sender } from '../../../src/hooks/notify/sender.js';
import { lastDeployNotice, releaseCommitUrls } from '../../../src/hooks/notify/status.js';
import { appendLog } from '../../../src/releases/log.js';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { writeJson } from '../../../src/releases/settings/files.js';
import { tmpDir } from '../../fixtures/cli.js';
import { forgeServer, type ForgeKind } from './servers.js';

const SHA = 'a'.repeat(40);
const TOKEN = 'tok_abcdefghijklmnop';

function layoutFor(t: TestContext): Layout {
  const data = tmpDir('toes-rev-notify-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  return new Layout(resolveRoots({ dataDir: data }, {}));
}

function failed(commit = SHA): OpResult {
  return { ok: false, op: 'deploy', app: 'sample', release: '20261206-000001', commit, version: commit, status: 'failed', stages: [], failedStage: 'predeploy', error: { code: 'BUILD_FAILED', message: 'predeploy exited with code 3; see the deploy log.' }, durationMs: 5 };
}

function live(commit = SHA): OpResult {
  return { ok: true, op: 'deploy', app: 'sample', release: '20261206-000002', commit, version: commit, status: 'live', stages: [], durationMs: 5 };
}

/** Runs a sender until nothing is due soon; retries come 20 ms apart. */
async function drain(layout: Layout): Promise<void> {
  process.env.TOES_REV_NOTIFY_RETRY_MS = '20,20';
  await new Sender(layout, () => {}, { idleExitMs: 2_000 }).runUntilIdle();
}

async function configure(layout: Layout, kind: ForgeKind, api: string, token = TOKEN): Promise<void> {
  await writeJson(layout.appConfig('sample'), { source: 'https://example.org/me/app.git', 'status.forge': kind, 'status.api': api });
  await writeJson(layout.appEnv('sample'), { FORGE_TOKEN: token });
}

for (const kind of ['github', 'forgejo', 'gitlab'] as const) {
  test(`${kind}: pending, then the final state, as its API documents them`, async (t) => {
    const layout = layoutFor(t);
    const forge = await forgeServer(t, kind, { token: TOKEN, repo: 'me/app' });
    await configure(layout, kind, forge.url + (kind === 'github' ? '' : kind === 'gitlab' ? '/api/v4' : '/api/v1'));
    await writeJson(layout.globalConfig, { 'webhook.url': 'https://toes.example.net' });
    await noteStarted(layout, 'sample', { trigger: 'webhook x', hint: { commit: SHA } });
    await noteOutcome(layout, failed(), { trigger: 'webhook x', hint: { commit: SHA } });
    await drain(layout);
    assert.deepEqual(forge.seen.map((s) => s.status), [201, 201]);
    const [pending, final] = forge.seen;
    for (const s of forge.seen) {
      assert.equal(s.method, 'POST');
      assert.match(s.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(s.body.target_url, 'https://toes.example.net/apps/sample');
      assert.ok(s.body.description.length <= 140);
    }
    if (kind === 'gitlab') {
      assert.equal(pending.path, `/api/v4/projects/me%2Fapp/statuses/${SHA}`);
      assert.deepEqual([pending.body.state, final.body.state, final.body.name], ['running', 'failed', 'toes/sample']);
    } else {
      assert.equal(pending.path, `${kind === 'github' ? '' : '/api/v1'}/repos/me/app/statuses/${SHA}`);
      assert.deepEqual([pending.body.state, final.body.state, final.body.context], ['pending', 'failure', 'toes/sample']);
    }
    assert.match(final.body.description, /predeploy exited with code 3/);
    assert.deepEqual(await list(layout), []);
    const state = await readNotifyState(layout, 'sample');
    assert.equal(state.targets[0].outcome, 'sent');
    assert.equal(state.lastDeploy?.target, `${kind} me/app`);
  });
}

test('401, 404 and 422 are reported failed at once with the reason, never with the token; 500 is retried', async (t) => {
  const layout = layoutFor(t);
  const forge = await forgeServer(t, 'github', { token: TOKEN, repo: 'me/app' });
  await configure(layout, 'github', forge.url, 'wrong_token_123456');
  await noteOutcome(layout, live(), { trigger: 'cli' });
  await drain(layout);
  let state = await readNotifyState(layout, 'sample');
  assert.equal(state.failures.at(-1)?.outcome, 'failed');
  assert.match(state.failures.at(-1)!.reason!, /answered 401: Bad credentials/);
  assert.ok(!JSON.stringify(state).includes('wrong_token'), 'the token is in the recorded outcome');

  await configure(layout, 'github', forge.url);
  await writeJson(layout.appConfig('sample'), { source: 'https://example.org/someone/else.git', 'status.forge': 'github', 'status.api': forge.url });
  await noteOutcome(layout, live('b'.repeat(40)), { trigger: 'cli' });
  await drain(layout);
  state = await readNotifyState(layout, 'sample');
  assert.match(state.failures.at(-1)!.reason!, /answered 404/);

  await configure(layout, 'github', forge.url);
  forge.script.push(422);
  await noteOutcome(layout, live('c'.repeat(40)), { trigger: 'cli' });
  await drain(layout);
  state = await readNotifyState(layout, 'sample');
  assert.match(state.failures.at(-1)!.reason!, /answered 422/);

  forge.script.push(500, 503);
  const before = forge.seen.length;
  await noteOutcome(layout, live('d'.repeat(40)), { trigger: 'cli' });
  await drain(layout);
  assert.deepEqual(forge.seen.slice(before).map((s) => s.status), [500, 503, 201]);
  assert.equal((await readNotifyState(layout, 'sample')).targets.at(-1)?.outcome, 'sent');
  assert.deepEqual(await list(layout), []);
});

test('the forge comes from the webhook, the settings or a well-known source; a token goes only to its host', async (t) => {
  assert.deepEqual(forgeFromSource('https://github.com/me/app.git'), { kind: 'github', api: 'https://api.github.com', web: 'https://github.com/me/app', repo: 'me/app' });
  assert.deepEqual(forgeFromSource('https://gitlab.com/group/sub/app.git'), { kind: 'gitlab', api: 'https://gitlab.com/api/v4', web: 'https://gitlab.com/group/sub/app', repo: 'group/sub/app' });
  assert.equal(forgeFromSource('https://codeberg.org/me/app')?.api, 'https://codeberg.org/api/v1');
  assert.equal(forgeFromSource('https://git.example.com/me/app.git'), undefined);
  // GitHub Enterprise and a Forgejo mounted under a path, from the webhook's repository.html_url.
  assert.equal(chooseForge({}, { format: 'github', repo: 'https://ghe.example.com/me/app' }, undefined).forge?.api, 'https://ghe.example.com/api/v3');
  assert.deepEqual(forgeAt('gitea', 'https://example.com/git/me/app'), { kind: 'gitea', api: 'https://example.com/git/api/v1', web: 'https://example.com/git/me/app', repo: 'me/app' });
  // The settings override, and none turns statuses off.
  assert.equal(chooseForge({ forge: 'forgejo', api: 'https://git.example.com/api/v1' }, {}, 'https://git.example.com/me/app.git').forge?.api, 'https://git.example.com/api/v1');
  assert.match(chooseForge({ forge: 'none' }, { format: 'github', repo: 'https://github.com/me/app' }, undefined).why ?? '', /none/);
  assert.match(chooseForge({}, {}, 'https://git.example.com/me/app.git').why ?? '', /not known/);
  // Where the forge came from, the webhook before the source, and status.api moving either's API.
  const hinted = chooseForge({ api: 'https://proxy.example.com/api/' }, { format: 'gitea', repo: 'https://git.example.com/me/app' }, 'https://github.com/other/app');
  assert.deepEqual([hinted.forge && hinted.from, hinted.forge?.kind, hinted.forge?.repo, hinted.forge?.api], ['webhook', 'gitea', 'me/app', 'https://proxy.example.com/api']);
  const sourced = chooseForge({ api: 'https://proxy.example.com/api' }, {}, 'https://github.com/me/app.git');
  assert.deepEqual([sourced.forge && sourced.from, sourced.forge?.kind, sourced.forge?.web, sourced.forge?.api], ['source', 'github', 'https://github.com/me/app', 'https://proxy.example.com/api']);
  // status.forge takes the repository from the webhook over the source.
  const set = chooseForge({ forge: 'gitlab' }, { format: 'github', repo: 'https://git.example.com/me/app' }, 'https://github.com/other/app');
  assert.deepEqual([set.forge && set.from, set.forge?.kind, set.forge?.web], ['settings', 'gitlab', 'https://git.example.com/me/app']);

  const layout = layoutFor(t);
  const gh = forgeFromSource('https://github.com/me/app')!;
  const other = forgeFromSource('https://gitlab.com/me/app')!;
  await writeJson(layout.globalEnv, { FORGE_TOKEN: 'global_tok' });
  assert.equal(await forgeToken(layout, 'sample', gh), 'global_tok');
  assert.equal(await forgeToken(layout, 'sample', other), undefined, 'the global token went to a host other than github.com');
  await writeJson(layout.globalEnv, { FORGE_TOKEN: 'global_tok', FORGE_TOKEN_HOST: 'gitlab.com' });
  assert.equal(await forgeToken(layout, 'sample', other), 'global_tok');
  assert.equal(await forgeToken(layout, 'sample', gh), undefined);
  // The app's own token goes to its source's host (or status.api's) unless FORGE_TOKEN_HOST names others.
  await writeJson(layout.appEnv('sample'), { FORGE_TOKEN: 'own_tok' });
  await writeJson(layout.appConfig('sample'), { source: 'https://github.com/me/app.git' });
  assert.equal(await forgeToken(layout, 'sample', gh), 'own_tok');
  assert.equal(await forgeToken(layout, 'sample', forgeAt('github', 'https://attacker.example/me/app')!), undefined, 'a webhook could send the token elsewhere');
  await writeJson(layout.appEnv('sample'), { FORGE_TOKEN: 'own_tok', FORGE_TOKEN_HOST: 'git.example.com' });
  assert.equal(await forgeToken(layout, 'sample', gh), undefined);
  assert.equal(await forgeToken(layout, 'sample', forgeAt('forgejo', 'https://git.example.com/me/app')!), 'own_tok');
});

test('for the page: each release links to its commit on the forge, and the last deploy says where its status went and how that ended', async (t) => {
  const layout = layoutFor(t);
  const forge = await forgeServer(t, 'forgejo', { token: TOKEN, repo: 'me/app' });
  await configure(layout, 'forgejo', `${forge.url}/api/v1`);
  await writeJson(layout.appConfig('sample'), { source: `${forge.url}/me/app.git`, 'status.forge': 'forgejo', 'status.api': `${forge.url}/api/v1` });
  const rec = (id: string, commit?: string) => ({ id, version: commit ?? id, kind: 'git' as const, status: 'live' as const, commit, createdAt: '2026-12-06T00:00:00Z', trigger: 'cli' });
  await appendLog(layout.releaseLog('sample'), [rec('20261206-000001', SHA), rec('20261206-000002')]);
  assert.deepEqual(await releaseCommitUrls(layout, 'sample'), { '20261206-000001': `${forge.url}/me/app/commit/${SHA}` });

  assert.equal(await lastDeployNotice(layout, 'sample'), null);
  await noteOutcome(layout, live(), { trigger: 'cli' });
  let last = await lastDeployNotice(layout, 'sample');
  assert.equal(last?.target, 'forgejo me/app');
  assert.equal(last?.commitUrl, `${forge.url}/me/app/commit/${SHA}`);
  assert.equal(last?.outcome, undefined, 'an outcome before anything was sent');
  await drain(layout);
  last = await lastDeployNotice(layout, 'sample');
  assert.equal(last?.outcome?.outcome, 'sent');
  assert.equal(last?.outcome?.what, 'success');

  // Without a token, the page is told why nothing was sent.
  await writeJson(layout.appEnv('sample'), {});
  await noteOutcome(layout, live('e'.repeat(40)), { trigger: 'cli' });
  assert.match((await lastDeployNotice(layout, 'sample'))?.why ?? '', /no FORGE_TOKEN/);
});
