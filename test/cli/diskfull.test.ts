// A full disk under `toes config` and `toes env` (a small tmpfs as DATA_DIR; needs root, as
// CI runs): the DISK_FULL sentence a deploy gets, not "a bug", and nothing changed on disk,
// not even the lock the write was to be made under.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { run, tmpfs } from '../fixtures/cli.js';
import { treeOf } from '../fixtures/trees.js';

/** Writes to `file` until the disk it is on is full. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4096);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
}

test('config and env writes on a full disk: DISK_FULL in one sentence, nothing left behind, and they work once there is room', async (t) => {
  const data = tmpfs(t, '1m');
  for (const args of [['config', 'set', 'sample', 'keep', '3'], ['env', 'set', 'sample', 'A', 'b'], ['env', 'set', '-g', 'G', '1']]) {
    const r = await run(data, args);
    assert.equal(r.code, 0, r.stderr);
  }
  const rev = path.join(data, 'rev');
  const before = treeOf(rev);
  const filler = path.join(data, 'filler');
  fill(filler);
  for (const args of [['config', 'set', 'sample', 'keep', '4'], ['config', 'unset', 'sample', 'keep'], ['env', 'set', 'sample', 'B', 'c'], ['env', 'set', '-g', 'B', 'c']]) {
    const what = args.join(' ');
    const r = await run(data, [...args, '--json']);
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.deepEqual(Object.keys(r.json()), ['ok', 'error'], what);
    assert.equal(r.json().error.code, 'DISK_FULL', `${what}: ${r.stdout}`);
    assert.match(r.stderr, /^toes: The disk filled up while running the command; free some space .* and try again\.\n$/, what);
    assert.deepEqual(treeOf(rev), before, what);
  }
  fs.rmSync(filler);
  const again = await run(data, ['config', 'set', 'sample', 'keep', '4']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await run(data, ['config', 'list', 'sample', '--json'])).json(), { keep: 4 });
});
