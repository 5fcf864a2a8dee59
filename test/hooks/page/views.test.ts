// The app page's sections as rendered for a state read from disk: what the page says, not
// how it looks (screens.test.ts looks, in Chromium).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppPageState } from '../../../src/hooks/page/state.js';
import { releasesSection, webhookSection } from '../../../src/hooks/page/views.js';

const at = '2026-12-06T03:35:07.000Z';

function state(over: Partial<AppPageState> = {}): AppPageState {
  return {
    app: 'sample',
    token: 'rt_…c123',
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
