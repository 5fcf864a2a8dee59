// `toes webhook enable|disable|status`: the secret, its file, and what each prints.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { run, tmpDir } from '../../fixtures/cli.js';

test('enable makes a Standard Webhooks secret, stored 0600, kept across enable/disable, new on --rotate', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const en = await run(data, ['webhook', 'enable', 'blog', '--json']);
  assert.equal(en.code, 0, en.stderr);
  const j = en.json();
  assert.equal(j.enabled, true);
  assert.equal(j.url, 'http://127.0.0.1:7420/hooks/blog');
  assert.match(j.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.ok(Buffer.from(j.secret.slice(6), 'base64').length >= 24);
  // The notes say what is missing: a source, a running daemon, a reachable URL.
  assert.equal(j.notes.length, 3, JSON.stringify(j.notes));
  const file = path.join(data, 'rev/apps/blog/webhook.json');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  const again = (await run(data, ['webhook', 'enable', 'blog', '--json'])).json();
  assert.equal(again.secret, j.secret);
  const off = await run(data, ['webhook', 'disable', 'blog']);
  assert.equal(off.code, 0);
  assert.match(off.stdout, /refused \(403\)/);
  assert.equal((await run(data, ['webhook', 'status', 'blog', '--json'])).json().enabled, false);
  assert.equal((await run(data, ['webhook', 'enable', 'blog', '--json'])).json().secret, j.secret);
  const rotated = (await run(data, ['webhook', 'enable', 'blog', '--rotate', '--json'])).json().secret;
  assert.notEqual(rotated, j.secret);

  // Human output: the URL and the secret to paste, and nothing secret in status.
  const human = await run(data, ['webhook', 'enable', 'blog']);
  assert.match(human.stdout, /URL: +http:\/\/127\.0\.0\.1:7420\/hooks\/blog/);
  assert.ok(human.stdout.includes(rotated));
  assert.match(human.stderr, /only reaches this machine/);
  const st = await run(data, ['webhook', 'status', 'blog']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /webhooks enabled/);
  assert.match(st.stdout, /daemon: +not running/);
  assert.match(st.stdout, /deliveries: none yet/);
  const sj = (await run(data, ['webhook', 'status', 'blog', '--json'])).json();
  assert.deepEqual(Object.keys(sj).sort(), ['app', 'daemon', 'deliveries', 'enabled', 'lastDeploy', 'local', 'notify', 'refused', 'relay', 'url']);
  for (const out of [st.stdout, st.stderr, JSON.stringify(sj)]) assert.ok(!out.includes(rotated.slice(6, 26)));
});

test('the public URL comes from webhook.url; bad actions and app names are usage errors that change nothing', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  assert.equal((await run(data, ['config', 'set', '-g', 'webhook.url', 'https://toes.example.net/'])).code, 0);
  const en = (await run(data, ['webhook', 'enable', 'shop', '--json'])).json();
  assert.equal(en.url, 'https://toes.example.net/hooks/shop');
  assert.ok(!en.notes.some((n: string) => /only reaches this machine/.test(n)));

  const bad = await run(data, ['webhook', 'explode', 'shop', '--json']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json().error.code, 'USAGE');
  const evil = await run(data, ['webhook', 'enable', '../etc']);
  assert.equal(evil.code, 2);
  assert.match(evil.stderr, /not a valid app name/);
  assert.deepEqual(fs.readdirSync(path.join(data, 'rev/apps')).sort(), ['shop']);
  // No package.json here and no app named: a clear error.
  const none = await run(data, ['webhook', 'status']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No app given/);
});
