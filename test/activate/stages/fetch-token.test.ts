import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startGitServer } from '../../fixtures/git-server.js';
import { serve } from '../../fixtures/serve.js';
import { makeWorld } from '../../fixtures/world.js';

const TOKEN = 'rt_test_9f8e7d6c5b4a39281706';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...filesUnder(p));
    else if (d.isFile()) out.push(p);
  }
  return out;
}

test('a host that wants a token: refused without it, deploys with it, and the token never leaks', async (t) => {
  const w = await makeWorld({ token: TOKEN });
  t.after(() => w.close());

  const denied = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(denied.code, 1);
  assert.equal(denied.json().error.code, 'AUTH');
  assert.match(denied.stderr, /refused access.*REV_TOKEN/);
  assert.equal(w.live(), undefined);

  // A wrong token is refused the same way, and is not echoed.
  const wrong = await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: 'rt_wrong_token_value_123\n' });
  assert.equal(wrong.code, 0, wrong.stderr);
  const denied2 = await w.toes(['deploy', 'sample', '--from', w.url]);
  assert.equal(denied2.code, 1);
  assert.doesNotMatch(denied2.stderr + denied2.stdout, /rt_wrong_token_value_123/);

  // The right one, set from stdin so it never is a process argument.
  const set = await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: `${TOKEN}\n` });
  assert.equal(set.code, 0, set.stderr);
  const ok = await w.toes(['deploy', 'sample', '--from', w.url, '--json', '--verbose']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.ok(w.server.requests.some((r) => r.auth));

  // The env file is private; no other file, no output, no URL holds the token.
  const envFile = path.join(w.data, 'rev/apps/sample/env.json');
  assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
  for (const f of filesUnder(w.data)) {
    if (f === envFile) continue;
    assert.ok(!fs.readFileSync(f).includes(TOKEN), `token found in ${f}`);
  }
  for (const out of [denied.stdout, denied.stderr, ok.stdout, ok.stderr]) assert.ok(!out.includes(TOKEN));
  assert.ok(!w.server.requests.some((r) => r.path.includes(TOKEN)));

  // list masks it; get is the explicit way to read it back.
  const list = await w.toes(['env', 'list', 'sample', '--json']);
  assert.ok(!list.stdout.includes(TOKEN));
  assert.match(list.json().REV_TOKEN, /^rt_…/);

  // Credentials in the URL are refused outright.
  const inUrl = await w.toes(['deploy', 'sample', '--from', w.url.replace('http://', `http://x:${TOKEN}@`), '--json']);
  assert.equal(inUrl.code, 2);
  assert.ok(!inUrl.stderr.includes(TOKEN) && !inUrl.stdout.includes(TOKEN));
});

test('a global token goes only to the host it is for: rev.host unless --host names another', async (t) => {
  const w = await makeWorld({ token: TOKEN });
  t.after(() => w.close());
  const host = new URL(w.url).host;
  const set = await w.toes(['env', 'set', '-g', 'REV_TOKEN', '--json'], { input: TOKEN });
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(set.json().hosts, ['rev.host']);
  assert.equal(fs.statSync(w.layout.globalEnv).mode & 0o777, 0o600);
  // Not meant for this host: never sent, so the host refuses and says how to name it.
  const denied = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(denied.code, 1);
  assert.equal(denied.json().error.code, 'AUTH');
  assert.ok(denied.stderr.includes(`--host ${host}`), denied.stderr);
  assert.ok(!w.server.requests.some((r) => r.auth), 'the token was sent to a host it was not meant for');
  // Named for this host: sent, and the deploy goes live.
  const named = await w.toes(['env', 'set', '-g', 'REV_TOKEN', '--host', host], { input: TOKEN });
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, new RegExp(`sent only to ${host.replace(/\./g, '\\.')}`));
  const ok = await w.toes(['deploy', 'sample', '--from', w.url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(w.server.requests.some((r) => r.auth));
  const bad = await w.toes(['env', 'set', '-g', 'REV_TOKEN'], { input: 'two words' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /spaces or newlines/);
  const badHost = await w.toes(['env', 'set', '-g', 'REV_TOKEN', '--host', 'https://x/y'], { input: TOKEN });
  assert.equal(badHost.code, 2);
  assert.match(badHost.stderr, /not a host name/);
});

test("an app's token never goes to a source named by the release's own package.json", async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  // A second host, named only inside the live release's package.json.
  const other = await startGitServer(w.root);
  t.after(() => other.close());
  const adopted = path.join(w.layout.appDir('sample'), 'current');
  fs.mkdirSync(adopted, { recursive: true });
  fs.writeFileSync(path.join(adopted, 'package.json'), JSON.stringify({ name: 'sample', toes: { source: other.repoUrl('app.git') } }));
  const set = await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: TOKEN });
  assert.equal(set.code, 0, set.stderr);
  const ok = await w.toes(['deploy', 'sample', '--no-install']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(other.requests.length > 0, 'the deploy used the package.json source');
  assert.ok(!other.requests.some((r) => r.auth), 'the token went to a host only the repository named');
  // Named by the user, the same host gets it.
  const again = await w.toes(['deploy', 'sample', '--from', other.repoUrl('app.git'), '--no-install', '--force']);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(other.requests.some((r) => r.auth));
});

test('a repository that moved to another host is deployed from there, and the token stays home', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  // The old address answers every request with a redirect to the git server, another origin.
  let authAtOld = 0;
  const mover = await serve(t, (req, res) => {
    if (req.headers.authorization) authAtOld++;
    res.writeHead(301, { location: `${w.server.url}${req.url!.replace(/^\/old/, '')}` });
    res.end();
  });
  const set = await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: `${TOKEN}\n` });
  assert.equal(set.code, 0, set.stderr);
  const old = `${mover}/old/app.git`;
  const ok = await w.toes(['deploy', 'sample', '--from', old, '--no-install', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.ok(authAtOld > 0, 'the token was offered where the repository was configured');
  // The pack request went straight to the new place; no request there carried the token.
  assert.ok(w.server.requests.some((r) => r.method === 'POST'));
  assert.deepEqual(w.server.requests.filter((r) => r.auth), [], 'the token crossed to another origin');
});
