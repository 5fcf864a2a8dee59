// What a build can see: the app's own environment and data directory, not toes-rev's
// locations or tokens (it still runs as the same user: the README says what it can read).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { appFiles } from '../../fixtures/repo.js';
import { makeWorld } from '../../fixtures/world.js';

const TOKEN = 'rt_build_must_not_see_this_0123';
const FORGE = 'ghp_forge_token_builds_must_not_see_4567';
const GLOBAL_FORGE = 'ghp_global_forge_token_builds_must_not_see_89';

test('predeploy gets the app environment and its own DATA_DIR, never REV_*, FORGE_TOKEN or the rev/ locations', async (t) => {
  const dump = `bun -e "require('fs').writeFileSync('env.json', JSON.stringify(process.env))"`;
  const w = await makeWorld({
    files: { ...appFiles('v1'), 'package.json': JSON.stringify({ name: 'sample', scripts: { predeploy: dump } }) },
  });
  t.after(() => w.close());
  assert.equal((await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: TOKEN })).code, 0);
  assert.equal((await w.toes(['env', 'set', 'sample', 'API_URL', 'https://api.example.com'])).code, 0);
  // The forge tokens are toes-rev's, for commit statuses: a dependency's install script must not read them.
  assert.equal((await w.toes(['env', 'set', 'sample', 'FORGE_TOKEN', '--host', 'git.example.com'], { input: FORGE })).code, 0);
  assert.equal((await w.toes(['env', 'set', '-g', 'FORGE_TOKEN'], { input: GLOBAL_FORGE })).code, 0);
  const res = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env: { APPS_DIR: w.apps, TOES_DIR: path.join(w.data, 'toes') } });
  assert.equal(res.code, 0, res.stderr);
  const env = JSON.parse(w.liveFile('env.json'));
  assert.equal(env.API_URL, 'https://api.example.com');
  assert.equal(env.TOES_APP, 'sample');
  assert.equal(env.TOES_RELEASE, res.json().release);
  assert.equal(env.DATA_DIR, path.join(w.data, 'toes', 'sample'));
  assert.equal(env.APPS_DIR, undefined);
  assert.equal(env.TOES_DIR, undefined);
  const text = JSON.stringify(env);
  assert.ok(!text.includes(TOKEN), 'the token reached the build');
  assert.ok(!text.includes(FORGE) && !text.includes(GLOBAL_FORGE), 'a forge token reached the build');
  assert.ok(!Object.keys(env).some((k) => k.startsWith('FORGE_TOKEN')), Object.keys(env).join(' '));
  assert.ok(!Object.keys(env).some((k) => k.startsWith('REV_')), Object.keys(env).join(' '));
  assert.ok(!text.includes(w.layout.revDir), 'the build was told where rev/ is');
});
