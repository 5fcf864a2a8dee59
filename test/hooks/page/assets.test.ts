// The page's script and stylesheet, as a browser gets them from the daemon: named by a hash
// of their content (so cached for good), and linked from pages whose CSP stays strict.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ensureStopped, startDaemon } from '../../fixtures/hooks.js';
import { ask, session } from '../../fixtures/page-login.js';
import { hookedWorld } from '../serve/hooked-world.js';

test('assets are named by their content and cached for good; pages are never cached and allow scripts from the page alone', async (t) => {
  const { w } = await hookedWorld(t);
  const d = await startDaemon(w.data);
  t.after(() => ensureStopped(d));
  const cookie = await session(d.url, w.data);
  const page = await ask(d.url, '/apps/sample', { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.equal(page.headers['cache-control'], 'no-store');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe/);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.equal(page.headers['x-frame-options'], undefined, 'the Toes dashboard frames the page');
  const urls = [...page.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(urls.map((u) => u.replace(/\.[0-9a-f]{12}\./, '.HASH.')).sort(), ['/assets/page.HASH.css', '/assets/page.HASH.js']);
  for (const u of urls) {
    const a = await fetch(`${d.url}${u}`);
    assert.equal(a.status, 200, u);
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(String(a.headers.get('content-type')), u.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    const body = Buffer.from(await a.arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex').slice(0, 12), /\.([0-9a-f]{12})\./.exec(u)![1], `${u} is not named by its content`);
  }
  // The login page links its own script the same way; an old name is simply not there.
  const login = await ask(d.url, '/login');
  assert.match(login.text, /src="\/assets\/login\.[0-9a-f]{12}\.js"/);
  assert.equal((await fetch(`${d.url}/assets/page.js`)).status, 404);
});
