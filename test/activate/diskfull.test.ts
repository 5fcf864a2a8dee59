// A disk that fills up mid-deploy: a small tmpfs as DATA_DIR (needs root, as CI runs).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tmpfs } from '../fixtures/cli.js';
import { treeOf } from '../fixtures/trees.js';
import { makeWorld, leftovers } from '../fixtures/world.js';

test('a disk that fills up mid-deploy: clear error, staging removed, current untouched, next deploy works', async (t) => {
  const mnt = tmpfs(t);
  const w = await makeWorld({ data: mnt });
  t.after(() => w.close());
  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const live = w.live();

  // Something else fills the disk, leaving less room than the next release needs.
  const filler = path.join(mnt, 'filler');
  const free = () => fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1024 * 1024)));
  w.repo.commit({ 'big.bin': crypto.randomBytes(2 * 1024 * 1024).toString('base64'), 'VERSION': 'v2\n' });
  const rev = path.join(mnt, 'rev');
  const state = treeOf(rev);
  const full = await w.toes(['deploy', 'sample', '--no-install', '--json']);
  assert.equal(full.code, 1);
  assert.equal(full.json().error.code, 'DISK_FULL');
  assert.match(full.stderr, /disk filled up/);
  assert.equal(w.live(), live);
  assert.equal(w.liveFile('VERSION'), 'v1\n');
  assert.deepEqual(leftovers(w), []);
  // Nothing of the failed deploy is left in rev/ either: no scratch pack, no partial blob, no lock.
  assert.deepEqual(treeOf(rev), state);

  // Space is freed: the same deploy now goes through, with no manual cleanup.
  fs.rmSync(filler);
  const again = await w.toes(['deploy', 'sample', '--no-install', '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(w.liveFile('VERSION'), 'v2\n');
});
