// Deploy workers start on the runtime the CLI would choose.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isUsableBunVersion, workerExecutable } from '../../../src/hooks/serve/worker-runtime.js';
import { tmpDir } from '../../fixtures/cli.js';

test('Bun counts as usable from 1.2 on', () => {
  for (const v of ['1.2.0', '1.4.5\n', '1.10.1', '2.0.0']) assert.ok(isUsableBunVersion(v), v);
  for (const v of ['1.1.38', '0.8.1', '', 'bun: not found']) assert.ok(!isUsableBunVersion(v), v);
});

test('workers run on a usable Bun from PATH, else on this runtime; TOES_RUNTIME decides when set', (t) => {
  const dir = tmpDir('toes-rev-worker-rt-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bun = path.join(dir, 'bun');
  const fake = (version: string) => fs.writeFileSync(bun, `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  fake('1.3.1');
  assert.equal(workerExecutable({ PATH: dir }), bun);
  assert.equal(workerExecutable({ PATH: dir, TOES_RUNTIME: 'node' }), process.execPath);
  fake('1.1.0');
  assert.equal(workerExecutable({ PATH: dir }), process.execPath);
  assert.equal(workerExecutable({ PATH: dir, TOES_RUNTIME: 'bun' }), bun);
  assert.throws(() => workerExecutable({ PATH: dir, TOES_RUNTIME: 'deno' }), { code: 'USAGE' });
  assert.throws(() => workerExecutable({ PATH: path.join(dir, 'none'), TOES_RUNTIME: 'bun' }), { code: 'USAGE' });
});
