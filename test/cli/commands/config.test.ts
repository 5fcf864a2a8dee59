// `toes config`: set, get, unset and list, per app and global; values checked against the
// keys' kinds, the app taken from ./package.json when none is named.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { run, tmpDir } from '../../fixtures/cli.js';

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
    // Names every object has are not settings either.
    [['config', 'set', 'sample', 'toString', 'x'], 'BAD_CONFIG'],
    [['config', 'set', 'sample', '__proto__', 'x'], 'BAD_CONFIG'],
    [['config', 'get', 'sample', 'constructor'], 'BAD_CONFIG'],
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
