import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isRevError } from '../../src/errors.js';
import { acquireLock } from '../../src/releases/lock.js';
import { tmpDir } from '../fixtures/cli.js';

test('only one holder at a time; the second is told who holds it', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockDir = path.join(dir, 'lock');
  const a = await acquireLock(lockDir, { command: 'deploy (cli)', waitMs: 0 });
  await assert.rejects(acquireLock(lockDir, { command: 'rollback (cli)', waitMs: 0 }), (err) => {
    assert.ok(isRevError(err, 'LOCKED'));
    assert.match((err as Error).message, new RegExp(`deploy \\(cli\\) \\(pid ${process.pid} on ${os.hostname()}`));
    return true;
  });
  // A waiter gets it once the holder lets go.
  const waiting = acquireLock(lockDir, { command: 'second', waitMs: 5_000 });
  setTimeout(() => void a.release(), 200);
  const b = await waiting;
  await b.verify();
  await b.release();
  assert.equal(fs.existsSync(lockDir), false);
});

test('a lock whose owner died is taken over', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockDir = path.join(dir, 'lock');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1)']);
  await new Promise((r) => child.on('exit', r));
  fs.mkdirSync(lockDir);
  fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: child.pid, host: os.hostname(), command: 'deploy', startedAt: '', token: 'dead' }));
  const l = await acquireLock(lockDir, { command: 'next', waitMs: 0 });
  assert.equal(JSON.parse(fs.readFileSync(path.join(lockDir, 'owner.json'), 'utf8')).pid, process.pid);
  await l.verify();
  // Had it been taken from us, verify says so before anything is swapped.
  fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({ pid: 1, host: os.hostname(), command: 'thief', startedAt: '', token: 'other' }));
  await assert.rejects(l.verify(), (e) => isRevError(e, 'LOCKED'));
  fs.rmSync(lockDir, { recursive: true });
});

test('a lock directory with no owner note is stale only after a grace period', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockDir = path.join(dir, 'lock');
  fs.mkdirSync(lockDir);
  await assert.rejects(acquireLock(lockDir, { command: 'x', waitMs: 0 }), (e) => isRevError(e, 'LOCKED'));
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockDir, old, old);
  const l = await acquireLock(lockDir, { command: 'x', waitMs: 0 });
  await l.release();
});

test('many processes racing for one lock: exactly one wins each round', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockDir = path.join(dir, 'lock');
  const counter = path.join(dir, 'inside');
  const mod = new URL('../../src/releases/lock.js', import.meta.url).href;
  const script = `
    import fs from 'node:fs';
    const { acquireLock } = await import(${JSON.stringify(mod)});
    const l = await acquireLock(${JSON.stringify(lockDir)}, { command: 'race', waitMs: 20000 });
    fs.appendFileSync(${JSON.stringify(counter)}, 'in\\n');
    const n = fs.readFileSync(${JSON.stringify(counter)}, 'utf8').split('\\n').filter(Boolean);
    if (n.length % 2 !== 1) { console.error('overlap'); process.exit(3); }
    await new Promise((r) => setTimeout(r, 20));
    fs.appendFileSync(${JSON.stringify(counter)}, 'out\\n');
    await l.release();`;
  const kids = Array.from({ length: 6 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const codes = await Promise.all(kids.map((k) => new Promise<number | null>((r) => k.on('exit', r))));
  assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
  assert.equal(fs.readFileSync(counter, 'utf8'), 'in\nout\n'.repeat(6));
});

test('a lock whose pid was reused (another boot, or another process since) is stale', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockDir = path.join(dir, 'lock');
  // pid 1 is alive, but it is not the process that took this lock.
  for (const note of [
    { pid: 1, boot: 'another-boot' },
    { pid: 1, procStart: 'not-its-start-time' },
  ]) {
    fs.mkdirSync(lockDir, { recursive: true });
    fs.writeFileSync(path.join(lockDir, 'owner.json'), JSON.stringify({ host: os.hostname(), command: 'deploy', startedAt: '', token: 'old', ...note }));
    const l = await acquireLock(lockDir, { command: 'next', waitMs: 0 });
    await l.release();
  }
  // Same boot, same start time: a live owner is respected.
  const mine = await acquireLock(lockDir, { command: 'first', waitMs: 0 });
  await assert.rejects(acquireLock(lockDir, { command: 'second', waitMs: 0 }), (e) => isRevError(e, 'LOCKED'));
  await mine.release();
});
