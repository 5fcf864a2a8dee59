import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appendLog, readLog, type ReleaseRecord } from '../../src/releases/log.js';
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
