// The app page's sections as rendered for a state read from disk: what the page says, not
// how it looks (browser/screens.test.ts looks, in Chromium).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppPageState } from '../../../src/hooks/page/state.js';
import { releasesSection, webhookSection } from '../../../src/hooks/page/views.js';

const at = '2026-12-06T03:35:07.000Z';

function state(over: Partial<AppPageState> = {}): AppPageState {
  return {
    app: 'sample',
    token: 'rt_…c123',
    commitUrls: {},
    notice: null,
    deploying: false,
    log: null,
    releases: [
      { id: '20261206-033507', version: 'adopted-20261206-033507', kind: 'adopted', status: 'live', createdAt: at, trigger: 'cli', live: false } as AppPageState['releases'][number],
      { id: '20261206-040000', version: 'a'.repeat(40), commit: 'b'.repeat(40), kind: 'git', status: 'live', createdAt: at, trigger: 'cli', live: true } as AppPageState['releases'][number],
    ],
    hook: {
      app: 'sample',
      enabled: true,
      url: 'http://127.0.0.1:7420/hooks/sample',
      local: true,
      daemon: null,
      relay: null,
      deliveries: [],
      refused: { count: 2, reason: "X-Hub-Signature-256 does not match this app's secret; check that the secret in the sender's webhook settings is the one `toes webhook enable sample` printed", at },
      lastDeploy: { release: '20261206-050000', version: 'c'.repeat(40), status: 'failed', at, trigger: 'page', error: 'predeploy failed with exit code 3 (the output is in the deploy log).\nlast lines of output' },
    },
    ...over,
  };
}

test('versions are whole (a commit as 10 hex digits, the whole in its title); the token tail once; refusals and a failure\'s reason with its log', () => {
  const releases = releasesSection(state()).toString();
  assert.match(releases, /<code>adopted-20261206-033507<\/code>/);
  assert.match(releases, new RegExp(`<code title="${'b'.repeat(40)}">${'b'.repeat(10)}</code>`));
  const hooks = webhookSection(state()).toString();
  assert.equal(hooks.split('c123').length - 1, 1, 'the token tail shows once');
  assert.match(hooks, /2 deliveries refused in the last hour: X-Hub-Signature-256 does not match this app&#39;s secret; check that .*`toes webhook enable sample` printed\./);
  assert.match(hooks, /<span class="reason">predeploy failed with exit code 3 \(the output is in the deploy log\)\.<\/span> \(<a href="\/apps\/sample\/logs\/20261206-050000"/);
  assert.doesNotMatch(hooks, /last lines of output/);
  assert.match(hooks, /data-deploying="0"/);
  assert.match(webhookSection(state({ deploying: true })).toString(), /data-deploying="1"/);
  const quiet = webhookSection(state({ hook: { ...state().hook, refused: null, lastDeploy: { ...state().hook.lastDeploy!, status: 'live', error: undefined } } })).toString();
  assert.doesNotMatch(quiet, /refused|class="reason"/);
});

test('each release links its commit only to a web address; Last deploy says where its status went and how that ended, or why none was sent', () => {
  const sha = 'b'.repeat(40);
  const linked = releasesSection(state({ commitUrls: { '20261206-040000': `https://git.example.com/me/app/commit/${sha}`, '20261206-033507': 'javascript:alert(1)' } })).toString();
  assert.match(linked, new RegExp(`<a href="https://git.example.com/me/app/commit/${sha}" target="_blank" rel="noopener"><code title="${sha}">${sha.slice(0, 10)}</code></a>`));
  assert.doesNotMatch(linked, /javascript:/);
  assert.match(releasesSection(state({ commitUrls: { '20261206-040000': `https://user:pw@git.example.com/me/app/commit/${sha}` } })).toString(), new RegExp(`<td data-label="Version"><code title="${sha}">`), 'a link with credentials');

  const failed = state().hook.lastDeploy!;
  const base = { release: failed.release, commit: sha, target: 'github me/app', commitUrl: `https://github.com/me/app/commit/${sha}` };
  const sent = (outcome: 'sent' | 'retrying' | 'failed', reason?: string) => ({ ...base, outcome: { target: 'github me/app', outcome, at, id: 'x', what: 'failure', commit: sha, attempts: 1, ...(reason ? { reason } : {}) } });
  const line = (notice: AppPageState['notice']) => /<span id="forge-status"[^>]*>(.*?)<\/span>/.exec(webhookSection(state({ notice })).toString())?.[1]?.replace(/<[^>]+>/g, '');
  assert.equal(line(sent('sent')), 'status sent to github me/app: failure');
  assert.match(webhookSection(state({ notice: sent('sent') })).toString(), new RegExp(`<a href="https://github.com/me/app/commit/${sha}" target="_blank" rel="noopener">github me/app</a>`));
  assert.equal(line(base), 'status to github me/app: waiting to be sent');
  assert.equal(line(sent('retrying', 'the forge answered 502 <b>Bad Gateway</b>')), 'status to github me/app: failure, not sent yet (the forge answered 502 &lt;b&gt;Bad Gateway&lt;/b&gt;); trying again');
  assert.equal(line(sent('failed', 'the forge answered 401: check FORGE_TOKEN')), 'status to github me/app: failure, not sent: the forge answered 401: check FORGE_TOKEN');
  assert.equal(line({ release: failed.release, why: 'no FORGE_TOKEN for github.com: set one with `toes env set sample FORGE_TOKEN` (read from stdin)' }), 'no status sent: no FORGE_TOKEN for github.com: set one with `toes env set sample FORGE_TOKEN` (read from stdin)');
  // A notice about another deploy than the one shown says nothing.
  assert.equal(line({ ...sent('sent'), release: '20261206-000000' }), undefined);
  // Controls from outside (a bidi override in a reason) are escaped like every other text.
  assert.match(line(sent('failed', 'bad \u202e name')) ?? '', /bad \\u202e name/);
});
