import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appendLog, compactLog, readLog, type ReleaseRecord } from '../../src/releases/log.js';
import { newReleaseId } from '../../src/releases/naming.js';
import { tmpDir } from '../fixtures/cli.js';

const rec = (id: string, status: ReleaseRecord['status'], extra: Partial<ReleaseRecord> = {}): ReleaseRecord => ({
  id,
  version: `v-${id}`,
  kind: 'git',
  status,
  createdAt: `2026-01-01T00:00:0${id}Z`,
  trigger: 'cli',
  ...extra,
});

test('the release log folds records by id in first-seen order; the last record wins', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'releases.jsonl');
  assert.deepEqual(await readLog(file), []);
  await appendLog(file, [rec('1', 'building'), rec('2', 'building')]);
  await appendLog(file, [rec('1', 'live', { sealed: true, createdAt: 'ignored' })]);
  const out = await readLog(file);
  assert.deepEqual(
    out.map((r) => [r.id, r.status, r.createdAt]),
    [
      ['1', 'live', '2026-01-01T00:00:01Z'],
      ['2', 'building', '2026-01-01T00:00:02Z'],
    ],
  );
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('a torn last line (crash mid-append) loses only that record, and the next append starts clean', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'releases.jsonl');
  await appendLog(file, [rec('1', 'live')]);
  fs.appendFileSync(file, '{"id":"2","status":"bui');
  assert.deepEqual(
    (await readLog(file)).map((r) => r.id),
    ['1'],
  );
  await appendLog(file, [rec('3', 'live')]);
  assert.deepEqual(
    (await readLog(file)).map((r) => [r.id, r.status]),
    [
      ['1', 'live'],
      ['3', 'live'],
    ],
  );
});

test('release names keep Toes exact form, moving to the next free second on a clash', (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const now = new Date('2026-11-28T16:30:59Z');
  assert.equal(newReleaseId(dir, new Set(), now), '20261128-163059');
  fs.mkdirSync(path.join(dir, '20261128-163059'));
  assert.equal(newReleaseId(dir, new Set(['20261128-163100']), now), '20261128-163101');
});

test('a log mostly of superseded lines is rewritten folded, with the same releases; a short or dense one is left', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'releases.jsonl');
  await appendLog(file, [rec('1', 'live', { sealed: true }), rec('2', 'previous', { sealed: true }), rec('3', 'failed', { error: { code: 'BUILD', message: 'no' } })]);
  assert.equal(await compactLog(file, await readLog(file)), false, 'short: left as it is');
  // Rollbacks back and forth: two lines each, the releases stay three.
  for (let i = 0; i < 400; i++) {
    await appendLog(file, [rec('1', i % 2 ? 'live' : 'rolled-back', { sealed: true }), rec('2', i % 2 ? 'previous' : 'live', { sealed: true })]);
  }
  const before = await readLog(file);
  const size = fs.statSync(file).size;
  assert.ok(size > 64 * 1024, `the log grew to ${size} bytes`);
  assert.equal(await compactLog(file, before), true);
  assert.deepEqual(await readLog(file), before);
  assert.equal(fs.readFileSync(file, 'utf8').trim().split('\n').length, 3);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(dir), ['releases.jsonl'], 'no temporary file left');
  // Appends go on as before.
  await appendLog(file, [rec('4', 'building')]);
  assert.deepEqual((await readLog(file)).map((r) => r.id), ['1', '2', '3', '4']);

  // Many releases, each logged once or twice: dense, never rewritten.
  const dense = path.join(dir, 'dense.jsonl');
  for (let i = 0; i < 300; i++) await appendLog(dense, [rec(String(100 + i), 'building'), rec(String(100 + i), 'live', { sealed: true, source: 'x'.repeat(200) })]);
  assert.ok(fs.statSync(dense).size > 64 * 1024);
  assert.equal(await compactLog(dense, await readLog(dense)), false);
});
