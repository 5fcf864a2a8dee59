// Migration that loses nothing: a plain rsync'd `current` (deploy.sh) is adopted under the
// id `toes releases` announced, the first deploy after it says what the new release lacks,
// and retention never removes it: only `toes releases remove ... --yes` does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../fixtures/cli.js';
import { appFiles } from '../fixtures/repo.js';
import { makeWorld, type World } from '../fixtures/world.js';

/** A deploy.sh install: `current` is a directory holding the app, its `.env` and a database. */
function plainCurrent(w: World, mtime: Date): string {
  const dir = path.join(w.apps, 'sample', 'current');
  fs.mkdirSync(path.join(dir, 'uploads'), { recursive: true });
  for (const [name, text] of Object.entries({ ...appFiles('v0'), '.env': 'SECRET=1\n', 'data.db': 'rows\n', 'uploads/a.png': 'png', 'uploads/b.png': 'png' })) {
    fs.writeFileSync(path.join(dir, name), text);
  }
  fs.utimesSync(dir, mtime, mtime);
  return dir;
}

/**
 * A PATH with git, the shell tools and node, but no bun: as on a machine where Bun came only
 * with `npm ci` (the `bun` package beside toes).
 */
function pathWithoutBun(t: { after(fn: () => void): void }): string {
  const bin = tmpDir('toes-rev-nobun-');
  t.after(() => fs.rmSync(bin, { recursive: true, force: true }));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const PATH = `${bin}:/usr/bin:/bin`;
  for (const dir of PATH.split(':')) assert.equal(fs.existsSync(path.join(dir, 'bun')), false, `no bun in ${dir}`);
  return PATH;
}

test('a plain current with a .env survives 8 deploys with keep 5 and no bun on PATH; the first deploy warns what it lacks', async (t) => {
  // The app installs a dependency and builds with `bun` called by name, as a `tsc` predeploy would.
  const w = await makeWorld({
    files: {
      ...appFiles('v1'),
      'lib/package.json': JSON.stringify({ name: 'lib', version: '1.0.0', main: 'index.js' }),
      'lib/index.js': 'module.exports = 42;\n',
      'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', dependencies: { lib: 'file:./lib' }, scripts: { toes: 'bun index.ts', predeploy: 'bun --version > built.txt' } }),
    },
  });
  t.after(() => w.close());
  const env = { PATH: pathWithoutBun(t) };
  plainCurrent(w, new Date('2025-03-04T05:06:07Z'));
  assert.equal((await w.toes(['config', 'set', 'sample', 'keep', '5'])).code, 0);

  // The id announced before the adoption is the id it gets.
  const before = await w.toes(['releases', 'sample']);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /recovery pending: adopt the plain directory `current` as release 20250304-050607\b/);
  const adopted = '20250304-050607';
  const adoptedDir = path.join(w.apps, 'sample', adopted);

  // A dry run fetches and warns, and changes nothing: current is still the plain directory.
  const preview = await w.toes(['deploy', 'sample', '--from', w.url, '--dry-run', '--json'], { env });
  assert.equal(preview.code, 0, preview.stderr);
  assert.equal(preview.json().dryRun, true);
  assert.match(preview.json().version, /^[0-9a-f]{40}$/);
  assert.match(preview.json().warnings[0], /The live release 20250304-050607 \(adopted\) has 4 files the new release lacks \(\.env, data\.db, uploads\/\)/);
  const dryText = await w.toes(['deploy', 'sample', '--from', w.url, '--dry-run']);
  assert.equal(dryText.code, 0, dryText.stderr);
  assert.match(dryText.stderr, /warning: The live release 20250304-050607 \(adopted\)/);
  assert.match(dryText.stdout, /would be built as a new release; nothing was changed \(--dry-run\)/);
  assert.ok(fs.statSync(path.join(w.apps, 'sample', 'current')).isDirectory());
  assert.deepEqual(w.releaseLog(), []);

  const results = [];
  for (let i = 1; i <= 8; i++) {
    if (i > 1) w.repo.commit({ 'VERSION': `v${i}\n` });
    const args = ['deploy', 'sample', '--json', ...(i === 1 ? ['--from', w.url] : [])];
    const r = await w.toes(args, { env });
    assert.equal(r.code, 0, r.stderr);
    results.push(r.json());
    // Built with the Bun beside toes, which the predeploy found by name.
    assert.match(fs.readFileSync(r.json().log, 'utf8'), /^\$ \/\S*\/node_modules\/bun\/bin\/bun\.exe install$/m);
    assert.match(w.liveFile('built.txt'), /^1\.\d+\.\d+/);
    // Read now: the first release's log goes with it when it is pruned.
    if (i === 1) assert.ok(fs.readFileSync(r.json().log, 'utf8').includes(`warning: ${r.json().warnings?.[0]}`));
  }
  // The first deploy named what the new release lacks, and what to do; the log says it too.
  const first = results[0];
  assert.equal(first.previous, adopted);
  assert.equal(first.warnings.length, 1, JSON.stringify(first.warnings));
  assert.match(first.warnings[0], /has 4 files the new release lacks \(\.env, data\.db, uploads\/\)/);
  assert.match(first.warnings[0], /toes env set sample KEY/);
  assert.match(first.warnings[0], /DATA_DIR/);
  const lacksAt = first.stages.findIndex((s: any) => s.name === 'lacks');
  assert.ok(lacksAt >= 0 && lacksAt < first.stages.findIndex((s: any) => s.name === 'swap'), 'warned before the swap');
  for (const r of results.slice(1)) assert.equal(r.warnings, undefined);

  // Still there after 8 deploys with keep 5, .env and all, and not counted against keep.
  assert.equal(fs.readFileSync(path.join(adoptedDir, '.env'), 'utf8'), 'SECRET=1\n');
  const list = await w.toes(['releases', 'sample', '--json']);
  const rels = list.json();
  const a = rels.find((r: any) => r.id === adopted);
  assert.equal(a.kept, 'adopted');
  assert.equal(a.pruned, false);
  const deployed = rels.filter((r: any) => r.id !== adopted);
  assert.equal(deployed.filter((r: any) => !r.pruned).length, 5);
  assert.equal(deployed.filter((r: any) => r.pruned).length, 3);
  const human = await w.toes(['releases', 'sample']);
  assert.match(human.stdout, new RegExp(`${adopted} .*previous, adopted, kept`));

  // Nor does a collection remove it.
  const gc = await w.toes(['gc', 'sample']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.equal(fs.readFileSync(path.join(adoptedDir, '.env'), 'utf8'), 'SECRET=1\n');

  // The undo the deploy offered reaches it: its .env is live again, then forward again.
  const newest = w.live()!;
  const back = await w.toes(['rollback', 'sample', adopted, '--json']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(w.liveFile('.env'), 'SECRET=1\n');
  assert.equal((await w.toes(['rollback', 'sample', newest])).code, 0);

  // Removing it is explicit: without --yes it only says what it would delete.
  const ask = await w.toes(['releases', 'remove', 'sample', adopted]);
  assert.equal(ask.code, 2);
  assert.ok(ask.stderr.includes(adoptedDir), ask.stderr);
  assert.match(ask.stderr, /\(7 files, \d+ bytes: \.env, data\.db, index\.ts/);
  assert.match(ask.stderr, /--yes/);
  const dry = await w.toes(['releases', 'remove', 'sample', adopted, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.json().removed, false);
  assert.equal(dry.json().files, 7);
  assert.ok(fs.existsSync(path.join(adoptedDir, '.env')));
  // The live release is refused.
  const live = await w.toes(['releases', 'remove', 'sample', w.live()!, '--yes']);
  assert.equal(live.code, 2);
  assert.match(live.stderr, /is the live release of sample/);
  assert.ok(fs.existsSync(path.join(w.apps, 'sample', w.live()!)));

  const yes = await w.toes(['releases', 'remove', 'sample', adopted, '--yes']);
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stdout, new RegExp(`deleted release ${adopted} of sample: ${adoptedDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.equal(fs.existsSync(adoptedDir), false);
  const after = (await w.toes(['releases', 'sample', '--json'])).json();
  assert.equal(after.find((r: any) => r.id === adopted).pruned, true);
});

test('the adoption id is the directory mtime, the next free second when that name is taken', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const dir = plainCurrent(w, new Date('2025-03-04T05:06:07Z'));
  // A Toes release of that very second already sits beside it.
  fs.mkdirSync(path.join(w.apps, 'sample', '20250304-050607'));
  fs.writeFileSync(path.join(w.apps, 'sample', '20250304-050607', 'VERSION'), 'older\n');
  fs.utimesSync(dir, new Date('2025-03-04T05:06:07Z'), new Date('2025-03-04T05:06:07Z'));
  const shown = await w.toes(['releases', 'sample']);
  assert.match(shown.stdout, /adopt the plain directory `current` as release 20250304-050608\b/);
  // Asked twice, the same answer: nothing was adopted by looking.
  assert.match((await w.toes(['releases', 'sample'])).stdout, /as release 20250304-050608\b/);
  assert.ok(fs.statSync(path.join(w.apps, 'sample', 'current')).isDirectory());
  const d = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.json().previous, '20250304-050608');
  assert.equal(fs.readFileSync(path.join(w.apps, 'sample', '20250304-050608', '.env'), 'utf8'), 'SECRET=1\n');
});
