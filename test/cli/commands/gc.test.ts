// `toes gc` on the command line: its help teaches what is kept and what goes, it is listed
// in `toes --help`, and bad flags are usage errors that change nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { run, tmpDir } from '../../fixtures/cli.js';

test('toes gc --help says what is kept, what goes, and how to look first', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const help = await run(data, ['gc', '--help']);
  assert.equal(help.code, 0);
  for (const words of [/--dry-run/, /kept release/, /store tip|newest fetched commit/, /safe to stop/, /\[app\] limits only/, /toes gc --dry-run/]) assert.match(help.stdout, words);
  assert.match((await run(data, ['--help'])).stdout.replace(/\x1b\[[0-9;]*m/g, ''), /gc\s+Delete what no kept release/);
});

test('toes gc on an empty DATA_DIR reports an empty store; a bad --wait is a usage error', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const empty = await run(data, ['gc', '--json']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(empty.json().store, { blobs: 0, bytes: 0 });
  assert.equal(empty.json().complete, true);
  const bad = await run(data, ['gc', '--wait', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--wait takes a number of seconds/);
});
