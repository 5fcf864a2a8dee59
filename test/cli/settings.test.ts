import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { run, tmpDir } from '../fixtures/cli.js';

test('config: set, get, list, unset, per app and global, with validation', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const ok = async (args: string[]) => {
    const r = await run(data, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  await ok(['config', 'set', 'sample', 'branch', 'production']);
  await ok(['config', 'set', 'other', 'branch', 'refs/tags/v1.2']);
  await ok(['config', 'set', 'other', 'branch', 'release/2026-12']);
  await ok(['config', 'set', 'sample', 'keep', '3']);
  await ok(['config', 'set', '-g', 'build.timeout', '120']);
  await ok(['config', 'set', '-g', 'relay', 'https://relay.example']);
  assert.equal((await ok(['config', 'get', 'sample', 'branch'])).stdout.trim(), 'production');
  assert.deepEqual((await ok(['config', 'list', 'sample', '--json'])).json(), { branch: 'production', keep: 3 });
  assert.deepEqual((await ok(['config', 'list', '-g', '--json'])).json(), { 'build.timeout': 120, relay: 'https://relay.example' });
  await ok(['config', 'unset', 'sample', 'keep']);
  assert.deepEqual((await ok(['config', 'list', 'sample', '--json'])).json(), { branch: 'production' });

  // App from ./package.json when none is named.
  const cwd = tmpDir('toes-rev-cwd-');
  t.after(() => fs.rmSync(cwd, { recursive: true, force: true }));
  fs.writeFileSync(path.join(cwd, 'package.json'), '{"name":"from-cwd"}');
  const here = await run(data, ['config', 'set', 'install', 'false'], { cwd });
  assert.equal(here.code, 0, here.stderr);
  assert.deepEqual((await run(data, ['config', 'list', 'from-cwd', '--json'])).json(), { install: false });

  for (const [args, code] of [
    [['config', 'set', 'sample', 'keep', 'many'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'keep', '0'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'install', 'maybe'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'supervisor', 'systemd'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'nonsense', '1'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'relay', 'https://x'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'branch', 'ma\x1b[31min'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'branch', 'a..b'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', 'branch', 'feature branch'], 'BAD_CONFIG'],
    [['config', 'frob', 'sample'], 'USAGE'],
    [['config', 'set', '../x', 'keep', '1'], 'USAGE'],
  ] as [string[], string][]) {
    const r = await run(data, [...args, '--json']);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.json().error.code, code, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.deepEqual((await ok(['config', 'list', 'sample', '--json'])).json(), { branch: 'production' });
});

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
});

test('--help teaches: every command is listed, and each command has examples', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const top = await run(data, ['--help']);
  assert.equal(top.code, 0);
  for (const c of ['deploy', 'rollback', 'releases', 'env', 'config']) assert.match(top.stdout, new RegExp(c));
  const dep = await run(data, ['deploy', '--help']);
  assert.equal(dep.code, 0);
  assert.match(dep.stdout, /--from/);
  assert.match(dep.stdout, /Examples:/);
});

test('concurrent env sets all land (the settings file is updated under a lock)', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(data, ['env', 'set', '-g', `K${i}`, `v${i}`])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const list = (await run(data, ['env', 'list', '-g', '--json'])).json();
  assert.deepEqual(Object.keys(list).sort(), Array.from({ length: 8 }, (_, i) => `K${i}`).sort());
});
