// reconcile in two steps: the plan only reads (what `toes releases` shows), applying it
// makes the disk and the log what the plan said.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appendLog } from '../../src/releases/log.js';
import { Layout, resolveRoots } from '../../src/releases/paths.js';
import { applyReconcile, planReconcile } from '../../src/releases/reconcile.js';
import { tmpDir } from '../fixtures/cli.js';

/** Every path under `dir` with its kind and, for links, their target: what a plan may not change. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) {
        out.push(`${p}/`);
        walk(p);
      } else out.push(`${p} ${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir);
  return out.sort();
}

test('a plan changes nothing; applying it leaves the state the plan showed', async (t) => {
  const data = tmpDir('toes-rev-reconcile-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const layout = new Layout(resolveRoots({ dataDir: data }, {}));
  const appDir = layout.appDir('web');
  // A deploy.sh install beside an older Toes release, a killed deploy's staging tree, and a
  // release the log left building.
  fs.mkdirSync(path.join(appDir, 'current'), { recursive: true });
  fs.writeFileSync(path.join(appDir, 'current', '.env'), 'A=1\n');
  fs.mkdirSync(path.join(appDir, '20240101-000000'));
  fs.mkdirSync(path.join(appDir, '.staging-x'));
  const mtime = new Date('2025-06-07T08:09:10Z');
  fs.utimesSync(path.join(appDir, 'current'), mtime, mtime);
  await appendLog(layout.releaseLog('web'), [{ id: '20250101-000000', version: 'abc', kind: 'git', status: 'building', createdAt: '2025-01-01T00:00:00Z', trigger: 'cli', pid: 1 }]);
  fs.mkdirSync(path.join(appDir, '20250101-000000'));
  const before = tree(data);

  const now = () => new Date('2026-01-01T00:00:00Z');
  const plan = await planReconcile(layout, 'web', now);
  assert.deepEqual(tree(data), before, 'a plan changed the disk');
  assert.deepEqual(
    plan.steps.map((s) => s.kind),
    ['remove', 'adopt-dir', 'point-current', 'remove'],
  );
  assert.ok(plan.repairs.some((r) => r === 'adopt the plain directory `current` as release 20250607-080910'), plan.repairs.join('; '));
  assert.equal(plan.liveId, '20250607-080910');

  const state = await applyReconcile(layout, plan);
  assert.deepEqual(state.releases, plan.releases);
  assert.equal(state.liveId, plan.liveId);
  assert.equal(fs.readlinkSync(path.join(appDir, 'current')), '20250607-080910');
  assert.equal(fs.readFileSync(path.join(appDir, '20250607-080910', '.env'), 'utf8'), 'A=1\n');
  assert.equal(fs.existsSync(path.join(appDir, '.staging-x')), false);
  assert.equal(fs.existsSync(path.join(appDir, '20250101-000000')), false);
  assert.deepEqual(
    state.releases.map((r) => [r.id, r.kind, r.status]),
    [
      ['20250101-000000', 'git', 'failed'],
      ['20240101-000000', 'adopted', 'previous'],
      ['20250607-080910', 'adopted', 'live'],
    ],
  );
  // Applied, nothing is left to do.
  const again = await planReconcile(layout, 'web', now);
  assert.deepEqual(again.steps, []);
  assert.deepEqual(again.records, []);
});
