// bin/toes picks the runtime: Bun 1.2+ from PATH, else Node; TOES_RUNTIME forces one. Fake
// runtimes on PATH say which one was exec'd and with which entry.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { launcher, projectRoot, tmpDir } from '../fixtures/cli.js';

/**
 * A copy of the launcher in a package of its own (dist/ linked in): the checkout's real Bun
 * (node_modules/bun) is not beside it, so only the fakes on PATH, or one a test puts there, count.
 */
function packageCopy(): string {
  const pkg = tmpDir('toes-rev-package-');
  fs.mkdirSync(path.join(pkg, 'bin'));
  fs.copyFileSync(launcher, path.join(pkg, 'bin', 'toes'));
  fs.symlinkSync(path.join(projectRoot, 'dist'), path.join(pkg, 'dist'));
  after(() => fs.rmSync(pkg, { recursive: true, force: true }));
  return pkg;
}
const pkg = packageCopy();

/** The tools the launcher may run besides a runtime, linked beside the fakes: PATH holds nothing else. */
const TOOLS = ['mkdir', 'mv', 'rm', 'readlink'];

function linkTools(dir: string): void {
  for (const tool of TOOLS) {
    const found = (process.env.PATH ?? '').split(':').map((d) => path.join(d, tool)).find((f) => fs.existsSync(f));
    if (found) fs.symlinkSync(found, path.join(dir, tool));
  }
}

interface Fakes {
  dir: string;
  cache: string;
  /** Writes a fake bun that reports `version` (or exits `code` when asked). */
  bun(version: string, opts?: { code?: number; mtime?: Date }): void;
  versionChecks(): number;
  toes(args: string[], env?: Record<string, string>, exe?: string): Promise<{ code: number; out: string; err: string }>;
}

function fakes(t: { after(fn: () => void): void }): Fakes {
  const root = tmpDir('toes-rev-launcher-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'bin');
  const cache = path.join(root, 'cache');
  const log = path.join(root, 'version-checks');
  fs.mkdirSync(dir);
  linkTools(dir);
  fs.writeFileSync(path.join(dir, 'node'), '#!/bin/sh\necho "node $*"\n', { mode: 0o755 });
  return {
    dir,
    cache,
    bun(version, opts = {}) {
      const file = path.join(dir, 'bun');
      const answer = opts.code ? `exit ${opts.code}` : `echo ${version}; exit 0`;
      fs.writeFileSync(file, `#!/bin/sh\nif [ "$1" = --version ]; then echo x >> ${log}; ${answer}; fi\necho "bun $*"\n`, { mode: 0o755 });
      if (opts.mtime) fs.utimesSync(file, opts.mtime, opts.mtime);
    },
    versionChecks: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0),
    toes(args, env = {}, exe = path.join(pkg, 'bin', 'toes')) {
      const full = { PATH: dir, HOME: root, XDG_CACHE_HOME: cache, ...env };
      return new Promise((resolve) =>
        execFile(exe, args, { env: full }, (err, out, stderr) => resolve({ code: err ? Number(err.code) : 0, out: out.trim(), err: stderr.trim() })),
      );
    },
  };
}

// The launcher names its root as <its folder>/.., unresolved. `releases`, `rollback` and
// `deploy` have files of their own (scripts/bundle.mjs; CommonJS for Node), serve has not.
const entry = (runtime: 'node' | 'bun', command?: string, root = pkg) =>
  `${path.join(root, 'bin')}/../dist/bundle/${runtime}/${command ? `command-${command}.${runtime === 'node' ? 'cjs' : 'js'}` : 'main.js'}`;

test('a Bun 1.2 or newer on PATH runs the CLI, once checked; Node otherwise', async (t) => {
  const f = fakes(t);
  f.bun('1.3.0');
  assert.equal((await f.toes(['releases', 'x'])).out, `bun ${entry('bun', 'releases')} releases x`);
  assert.equal((await f.toes(['releases', 'y'])).out, `bun ${entry('bun', 'releases')} releases y`);
  assert.equal(f.versionChecks(), 1, 'the verdict is remembered');

  // Too old: Node, and the verdict is remembered too.
  const g = fakes(t);
  g.bun('1.1.38', { mtime: new Date(Date.now() - 60_000) });
  assert.equal((await g.toes(['deploy', 'app'])).out, `node ${entry('node', 'deploy')} deploy app`);
  assert.equal((await g.toes(['deploy', 'app'])).out, `node ${entry('node', 'deploy')} deploy app`);
  assert.equal(g.versionChecks(), 1);
  // An upgrade in place (a newer binary at the same path) is noticed.
  g.bun('1.2.0', { mtime: new Date(Date.now() + 60_000) });
  assert.equal((await g.toes(['deploy', 'app'])).out, `bun ${entry('bun', 'deploy')} deploy app`);
  assert.equal(g.versionChecks(), 2);
});

test('a Bun that does not run, or none at all, means Node; TOES_RUNTIME forces one', async (t) => {
  const f = fakes(t);
  f.bun('', { code: 132 }); // e.g. SIGILL on a CPU it was not built for
  assert.equal((await f.toes(['releases'])).out, `node ${entry('node', 'releases')} releases`);
  assert.equal((await f.toes(['releases'], { TOES_RUNTIME: 'bun' })).out, `bun ${entry('bun', 'releases')} releases`);

  const g = fakes(t);
  g.bun('1.4.5');
  assert.equal((await g.toes(['rollback', 'a'], { TOES_RUNTIME: 'node' })).out, `node ${entry('node', 'rollback')} rollback a`);
  const bad = await g.toes(['releases'], { TOES_RUNTIME: 'deno' });
  assert.equal(bad.code, 2);
  assert.match(bad.err, /TOES_RUNTIME must be node or bun/);

  const none = fakes(t);
  assert.equal((await none.toes(['releases'])).out, `node ${entry('node', 'releases')} releases`);
  const forced = await none.toes(['releases'], { TOES_RUNTIME: 'bun' });
  assert.equal(forced.code, 2);
  assert.match(forced.err, /no bun on PATH/);
});

test('with no usable Bun on PATH, the one the bun npm package put beside toes runs it', async (t) => {
  const beside = packageCopy();
  const bin = path.join(beside, 'node_modules', 'bun', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'bun.exe'), '#!/bin/sh\nif [ "$1" = --version ]; then echo 1.4.5; exit 0; fi\necho "beside-bun $*"\n', { mode: 0o755 });
  const exe = path.join(beside, 'bin', 'toes');
  const none = fakes(t);
  assert.equal((await none.toes(['releases'], {}, exe)).out, `beside-bun ${entry('bun', 'releases', beside)} releases`);
  const old = fakes(t);
  old.bun('1.1.0');
  assert.equal((await old.toes(['deploy', 'a'], {}, exe)).out, `beside-bun ${entry('bun', 'deploy', beside)} deploy a`);
  assert.equal((await old.toes(['deploy', 'a'], { TOES_RUNTIME: 'node' }, exe)).out, `node ${entry('node', 'deploy', beside)} deploy a`);
});

test('a command named first starts from its own file when it has one, else from main.js', async (t) => {
  const f = fakes(t);
  f.bun('1.3.0');
  assert.equal((await f.toes(['rollback', 'a', '--json'])).out, `bun ${entry('bun', 'rollback')} rollback a --json`);
  assert.equal((await f.toes(['deploy', 'a'])).out, `bun ${entry('bun', 'deploy')} deploy a`);
  assert.equal((await f.toes(['serve'])).out, `bun ${entry('bun')} serve`);
  assert.equal((await f.toes(['--json', 'rollback', 'a'])).out, `bun ${entry('bun')} --json rollback a`);
  assert.equal((await f.toes(['../main', 'a'])).out, `bun ${entry('bun')} ../main a`);
  assert.equal((await f.toes(['nosuch'])).out, `bun ${entry('bun')} nosuch`);
  assert.equal((await f.toes([])).out, `bun ${entry('bun')}`);
});

test('the launcher finds its files through the symlink npm installs', async (t) => {
  const f = fakes(t);
  f.bun('1.2.3');
  const link = path.join(f.dir, '..', 'toes');
  fs.symlinkSync(path.relative(path.dirname(link), launcher), link);
  const r = await f.toes(['--version'], {}, link);
  assert.equal(fs.realpathSync(r.out.split(' ')[1]), fs.realpathSync(entry('bun')));
});
