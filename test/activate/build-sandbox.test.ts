// Builds in a sandbox (bubblewrap where it works, a PID namespace from `unshare` where only
// that does): a hostile predeploy reaches nothing beyond its own release, and no process of
// a build outlives its step. Each test runs the CLI on Bun and on Node.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isRunning } from '../fixtures/cli.js';
import { startDaemon } from '../fixtures/hooks.js';
import { appFiles } from '../fixtures/repo.js';
import { makeWorld, leftovers, type World } from '../fixtures/world.js';

const runtimes = [{ bun: true }, { env: { TOES_RUNTIME: 'node' } }] as const;
const nameOf = (rt: (typeof runtimes)[number]) => ('bun' in rt ? 'bun' : 'node');

function pkg(predeploy: string): string {
  return JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { toes: 'bun index.ts', predeploy } }, null, 2);
}

/** Every file, symlink and folder under `dir` with its mode, content hash or link text. */
function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, p));
      if (st.isDirectory()) {
        out[p] = `dir ${st.mode}`;
        walk(p);
      } else if (st.isSymbolicLink()) out[p] = `link ${fs.readlinkSync(path.join(dir, p))}`;
      else out[p] = `file ${st.mode} ${st.ino} ${createHash('sha256').update(fs.readFileSync(path.join(dir, p))).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

/** Pids of processes running exactly `sleep <seconds>` (a unique number per test). */
function sleepers(seconds: number): string[] {
  return fs.readdirSync('/proc').filter((d) => {
    if (!/^\d+$/.test(d)) return false;
    try {
      return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') === `sleep\u0000${seconds}\u0000` && isRunning(Number(d));
    } catch {
      return false;
    }
  });
}

async function settle(seconds: number[]): Promise<string[]> {
  // A process killed with its namespace is gone at once; allow the kernel a moment to reap.
  for (let i = 0; i < 50 && seconds.some((s) => sleepers(s).length); i++) await new Promise((r) => setTimeout(r, 100));
  return seconds.flatMap(sleepers);
}

async function firstRelease(w: World, rt: (typeof runtimes)[number]): Promise<string> {
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], rt);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r.json().release;
}

for (const rt of runtimes) {
  test(`${nameOf(rt)}: a hostile predeploy in the sandbox reaches nothing outside its release, and all its processes end with it`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    const prev = await firstRelease(w, rt);
    const secret = `secret-${process.pid}-${Date.now()}`;
    assert.equal((await w.toes(['env', 'set', '-g', 'SOME_SECRET'], { input: secret })).code, 0);
    const hook = await w.toes(['webhook', 'enable', 'sample', '--json']);
    assert.equal(hook.code, 0, hook.stderr);
    const hookSecret: string = hook.json().secret;
    const daemon = await startDaemon(w.data, 'bun' in rt ? { bun: true } : { env: { TOES_RUNTIME: 'node' } });
    t.after(() => daemon.stop());
    const prevDir = path.join(w.apps, 'sample', prev);
    const before = snapshotTree(prevDir);
    const storeBefore = snapshotTree(w.layout.blobsRoot);
    const [s1, s2] = nameOf(rt) === 'bun' ? [3601, 3602] : [3611, 3612];
    const hostile = [
      'try() { if ( eval "$1" ) >/dev/null 2>&1; then echo "$2 ok"; else echo "$2 refused"; fi; }',
      `try 'cat ${w.layout.globalEnv} > leaked.txt' env`,
      `try 'cat ${w.layout.webhookFile('sample')} >> leaked.txt' webhook`,
      `try 'echo hacked > ${prevDir}/index.ts' write-previous`,
      `try 'rm ${prevDir}/VERSION' delete-previous`,
      `try 'echo hacked > ${path.join(w.apps, 'sample', 'current')}/VERSION' write-current`,
      `try 'kill -9 ${daemon.pid}' kill-daemon`,
      `setsid sleep ${s1} >/dev/null 2>&1 < /dev/null &`,
      `nohup sleep ${s2} >/dev/null 2>&1 &`,
      'echo built > built.txt',
    ].join('\n');
    w.repo.commit({ 'hostile.sh': hostile + '\n', 'package.json': pkg('sh hostile.sh > attempts.txt') });
    const r = await w.toes(['deploy', 'sample', '--json'], rt);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const rel = r.json().release;
    const attempts = fs.readFileSync(path.join(w.apps, 'sample', rel, 'attempts.txt'), 'utf8');
    for (const what of ['env', 'webhook', 'write-previous', 'delete-previous', 'write-current', 'kill-daemon']) assert.match(attempts, new RegExp(`^${what} refused$`, 'm'), attempts);
    const leaked = fs.readFileSync(path.join(w.apps, 'sample', rel, 'leaked.txt'), 'utf8');
    assert.ok(!leaked.includes(secret) && !leaked.includes(hookSecret), 'no token or webhook secret reached the build');
    assert.deepEqual(snapshotTree(prevDir), before, 'the release before is byte-identical');
    const storeAfter = snapshotTree(w.layout.blobsRoot);
    for (const [blob, was] of Object.entries(storeBefore)) assert.equal(storeAfter[blob], was, `blob ${blob} is unchanged`);
    assert.equal(isRunning(daemon.pid), true, 'the daemon still runs');
    assert.deepEqual(await settle([s1, s2]), [], 'no process of the build outlives it');
    // The release before still goes live: a rollback checks it against its seal.
    const back = await w.toes(['rollback', 'sample', prev, '--json'], rt);
    assert.equal(back.code, 0, back.stderr + back.stdout);
    assert.equal(w.live(), prev);
  });

  test(`${nameOf(rt)}: build.network false takes the network away from the build; true keeps it`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    await firstRelease(w, rt);
    const script = `bun -e "await fetch('${w.url}/info/refs').then(() => Bun.write('net.txt', 'reached'), () => Bun.write('net.txt', 'unreachable'))"`;
    w.repo.commit({ 'package.json': pkg(script) });
    assert.equal((await w.toes(['config', 'set', 'sample', 'build.network', 'false'])).code, 0);
    const off = await w.toes(['deploy', 'sample', '--json'], rt);
    assert.equal(off.code, 0, off.stderr + off.stdout);
    assert.equal(w.liveFile('net.txt'), 'unreachable');
    assert.equal((await w.toes(['config', 'set', 'sample', 'build.network', 'true'])).code, 0);
    const on = await w.toes(['deploy', 'sample', '--force', '--json'], rt);
    assert.equal(on.code, 0, on.stderr + on.stdout);
    assert.equal(w.liveFile('net.txt'), 'reached');
  });

  test(`${nameOf(rt)}: without bubblewrap, auto warns once and the step still ends with all its processes at build.timeout; on refuses`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    const live = await firstRelease(w, rt);
    const noBwrap = { ...rt, env: { ...('env' in rt ? rt.env : {}), TOES_BWRAP: '/nonexistent/bwrap' } };
    const s = nameOf(rt) === 'bun' ? 3621 : 3631;
    w.repo.commit({ 'package.json': pkg(`setsid sleep ${s} >/dev/null 2>&1 < /dev/null & sleep 600`) });
    assert.equal((await w.toes(['config', 'set', 'sample', 'build.timeout', '2'])).code, 0);
    const r = await w.toes(['deploy', 'sample', '--json'], noBwrap);
    assert.equal(r.code, 1);
    const res = r.json();
    assert.equal(res.error.code, 'BUILD_TIMEOUT');
    assert.equal(res.notes.filter((n: string) => /without a sandbox/.test(n)).length, 1, JSON.stringify(res.notes));
    assert.match(res.notes[0], /own PID namespace/);
    assert.deepEqual(await settle([s]), [], 'the setsid child died with the step');
    assert.equal(w.live(), live);
    assert.deepEqual(leftovers(w), []);

    assert.equal((await w.toes(['config', 'set', 'sample', 'build.sandbox', 'on'])).code, 0);
    const on = await w.toes(['deploy', 'sample', '--json'], noBwrap);
    assert.equal(on.code, 1);
    assert.equal(on.json().error.code, 'SANDBOX_UNAVAILABLE');
    assert.match(on.json().error.message, /build\.sandbox is on for sample, but bubblewrap \(bwrap\) does not work on this machine/);
    assert.equal(w.live(), live);
    assert.deepEqual(leftovers(w), []);
  });
}
