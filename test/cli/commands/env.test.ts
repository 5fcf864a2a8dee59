// `toes env`: values from stdin or argv, secret-looking ones masked, files private, and
// concurrent sets all kept.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { run, tmpDir } from '../../fixtures/cli.js';

test('env: values from stdin or argv, secrets masked in list, files private, bad names refused', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  assert.equal((await run(data, ['env', 'set', 'sample', 'API_URL', 'https://api.example'])).code, 0);
  assert.equal((await run(data, ['env', 'set', 'sample', 'SESSION_SECRET'], { input: 'abcdefghijklmnop\n' })).code, 0);
  const list = (await run(data, ['env', 'list', 'sample', '--json'])).json();
  assert.equal(list.API_URL, 'https://api.example');
  assert.equal(list.SESSION_SECRET, 'abc…mnop');
  assert.equal((await run(data, ['env', 'get', 'sample', 'SESSION_SECRET'])).stdout, 'abcdefghijklmnop\n');
  assert.equal(fs.statSync(path.join(data, 'rev/apps/sample/env.json')).mode & 0o777, 0o600);
  assert.equal((await run(data, ['env', 'unset', 'sample', 'API_URL'])).code, 0);
  assert.deepEqual(Object.keys((await run(data, ['env', 'list', 'sample', '--json'])).json()), ['SESSION_SECRET']);
  const bad = await run(data, ['env', 'set', 'sample', '1BAD', 'x', '--json']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json().error.code, 'USAGE');
  const missing = await run(data, ['env', 'get', 'sample', 'NOPE', '--json']);
  assert.notEqual(missing.code, 0);
  // A name every object has is set only once it is set, and then kept like any other;
  // __proto__, which no object can hold as a key, is refused.
  for (const key of ['constructor', 'toString']) {
    const unset = await run(data, ['env', 'get', 'sample', key, '--json']);
    assert.equal(unset.json().error?.code, 'USAGE', `${key}: ${unset.stdout}`);
    assert.equal((await run(data, ['env', 'set', 'sample', key, `v-${key}`])).code, 0);
    assert.equal((await run(data, ['env', 'get', 'sample', key])).stdout, `v-${key}\n`);
  }
  const proto = await run(data, ['env', 'set', 'sample', '__proto__', 'x', '--json']);
  assert.deepEqual([proto.code, proto.json().error.code], [2, 'USAGE']);
  assert.deepEqual((await run(data, ['env', 'list', 'sample', '--json'])).json(), { SESSION_SECRET: 'abc…mnop', constructor: 'v-constructor', toString: 'v-toString' });
});

test('concurrent env sets all land (the settings file is updated under a lock)', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(data, ['env', 'set', '-g', `K${i}`, `v${i}`])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const list = (await run(data, ['env', 'list', '-g', '--json'])).json();
  assert.deepEqual(Object.keys(list).sort(), Array.from({ length: 8 }, (_, i) => `K${i}`).sort());
});
