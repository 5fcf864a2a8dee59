// Which hosts a token is sent to: `--host NAME` means that host on any port, `--host
// NAME:PORT` that port alone (the scheme's default port when the URL names none).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { sourceToken, tokenHostMatches } from '../../../src/releases/settings/tokens.js';
import { tmpDir } from '../../fixtures/cli.js';
import { makeWorld } from '../../fixtures/world.js';

const TOKEN = 'rt_host_test_0123456789abcdef';

test('a host without a port matches it on any port; with a port, on that port only', () => {
  const m = (entry: string, url: string) => tokenHostMatches(entry, new URL(url));
  assert.equal(m('localhost', 'http://localhost:3000/app.git'), true);
  assert.equal(m('localhost', 'http://localhost/app.git'), true);
  assert.equal(m('LocalHost', 'https://localhost:8443/a.git'), true);
  assert.equal(m('localhost:3000', 'http://localhost:3000/app.git'), true);
  assert.equal(m('localhost:3000', 'http://localhost:3001/app.git'), false);
  assert.equal(m('localhost:3000', 'http://localhost/app.git'), false);
  assert.equal(m('git.example.com:443', 'https://git.example.com/a.git'), true);
  assert.equal(m('git.example.com:80', 'http://git.example.com/a.git'), true);
  assert.equal(m('git.example.com:80', 'https://git.example.com/a.git'), false);
  assert.equal(m('[::1]', 'http://[::1]:8080/a.git'), true);
  assert.equal(m('[::1]:8080', 'http://[::1]:8080/a.git'), true);
  assert.equal(m('[::1]:8081', 'http://[::1]:8080/a.git'), false);
  // Never a suffix or a prefix of another name.
  assert.equal(m('host', 'http://evilhost:3000/a.git'), false);
  assert.equal(m('rev.host', 'https://rev.host.evil.example/a.git'), false);
});

test('a global token for --host localhost goes to localhost:PORT; one for another port does not', async (t) => {
  const data = tmpDir('toes-rev-token-host-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const layout = new Layout(resolveRoots({ dataDir: data }, {}));
  const setGlobal = (hosts: string) => {
    fs.mkdirSync(layout.revDir, { recursive: true });
    fs.writeFileSync(layout.globalEnv, JSON.stringify({ REV_TOKEN: TOKEN, REV_TOKEN_HOST: hosts }), { mode: 0o600 });
  };
  const url = 'http://localhost:4873/me/app.git';
  setGlobal('localhost');
  assert.equal(await sourceToken(layout, 'app', url, 'flag'), TOKEN);
  setGlobal('localhost:4873');
  assert.equal(await sourceToken(layout, 'app', url, 'flag'), TOKEN);
  setGlobal('localhost:9999');
  assert.equal(await sourceToken(layout, 'app', url, 'flag'), undefined);
  setGlobal('git.example.com, localhost');
  assert.equal(await sourceToken(layout, 'app', url, 'flag'), TOKEN);
});

test('deploying from 127.0.0.1:PORT with a global token bound to --host 127.0.0.1 sends it', async (t) => {
  const w = await makeWorld({ token: TOKEN });
  t.after(() => w.close());
  const { hostname, port } = new URL(w.url);
  // Bound to another port of the same host: not sent, and the host refuses.
  const wrongPort = await w.toes(['env', 'set', '-g', 'REV_TOKEN', '--host', `${hostname}:${Number(port) + 1}`], { input: TOKEN });
  assert.equal(wrongPort.code, 0, wrongPort.stderr);
  const denied = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(denied.code, 1);
  assert.equal(denied.json().error.code, 'AUTH');
  assert.ok(!w.server.requests.some((r) => r.auth), 'the token went to a port it was not bound to');
  // Bound to the host alone: sent on whatever port the server listens.
  const any = await w.toes(['env', 'set', '-g', 'REV_TOKEN', '--host', hostname], { input: TOKEN });
  assert.equal(any.code, 0, any.stderr);
  const ok = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(w.server.requests.some((r) => r.auth));
});
