// What a build failure says (the command that was missing, the setting that turns that step
// off, the app's own name), and which Bun builds use when none is on PATH.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { missingCommand } from '../../src/activate/build.js';
import { tmpDir } from '../fixtures/cli.js';
import { appFiles } from '../fixtures/repo.js';
import { makeWorld } from '../fixtures/world.js';

function pkg(scripts: Record<string, string>): string {
  return JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { toes: 'bun index.ts', ...scripts } }, null, 2);
}

test('the command a shell could not find is read from dash, bash and Bun shell output', () => {
  assert.equal(missingCommand('$ nosuchtool --y\n/usr/bin/bash: line 1: nosuchtool: command not found\nerror: script "predeploy" exited with code 127'), 'nosuchtool');
  assert.equal(missingCommand('sh: 1: tsc: not found'), 'tsc');
  assert.equal(missingCommand('bun: command not found: esbuild'), 'esbuild');
  assert.equal(missingCommand('error: script "predeploy" exited with code 127'), undefined);
});

test('a predeploy or an install script calling a missing tool names it, the setting that turns that step off, and the app', async (t) => {
  const w = await makeWorld({ files: { ...appFiles('v1'), 'package.json': pkg({ predeploy: 'echo building && nosuchtool --y' }) } });
  t.after(() => w.close());
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(r.code, 1);
  const e = r.json().error;
  assert.equal(e.code, 'BUILD_FAILED');
  assert.match(e.message, /^predeploy of sample ran "nosuchtool", which is not installed here/);
  assert.match(e.message, /`toes config set sample predeploy false`/);
  assert.doesNotMatch(e.message, /<app>|bun\.exe|install false/);

  w.repo.commit({ 'package.json': pkg({ postinstall: 'nosuchtool2 --x' }) });
  const i = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(i.code, 1);
  assert.equal(i.json().failedStage, 'install');
  assert.match(i.json().error.message, /^bun install of sample ran "nosuchtool2"/);
  assert.match(i.json().error.message, /`toes config set sample install false`/);
  assert.equal(w.live(), undefined);
});

test('a missing Bun is named with the app and the setting of the step that needed it', async (t) => {
  const w = await makeWorld({ files: { ...appFiles('v1'), 'package.json': pkg({ predeploy: 'echo hi' }) } });
  t.after(() => w.close());
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env: { TOES_BUN: '/nonexistent/bun' } });
  assert.equal(r.code, 1);
  assert.equal(r.json().error.message, 'Could not run /nonexistent/bun for predeploy of sample: it is not installed or not on PATH; install Bun 1.2+ (or `npm ci` beside toes, which brings one) or turn the step off with `toes config set sample predeploy false`.');
});

test('with no Bun on PATH, toes runs on the Bun installed beside it and builds with it, on Bun and on Node', async (t) => {
  const node = process.execPath;
  // PATH: git and the shell tools, and a folder holding only node: no bun anywhere.
  const bin = tmpDir('toes-rev-nobun-');
  t.after(() => fs.rmSync(bin, { recursive: true, force: true }));
  fs.symlinkSync(node, path.join(bin, 'node'));
  const PATH = `${bin}:/usr/bin:/bin`;
  for (const dir of PATH.split(':')) assert.equal(fs.existsSync(path.join(dir, 'bun')), false, `no bun in ${dir}`);
  const files = {
    ...appFiles('v1'),
    'lib/package.json': JSON.stringify({ name: 'lib', version: '1.0.0', main: 'index.js' }),
    'lib/index.js': 'module.exports = 42;\n',
    'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', dependencies: { lib: 'file:./lib' }, scripts: { toes: 'bun index.ts', predeploy: 'bun --version > built.txt' } }),
  };
  for (const runtime of ['', 'node']) {
    const w = await makeWorld({ files });
    t.after(() => w.close());
    const env = { PATH, ...(runtime ? { TOES_RUNTIME: runtime } : {}) };
    const r = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const log = fs.readFileSync(r.json().log, 'utf8');
    assert.match(log, /^\$ \/\S*\/node_modules\/bun\/bin\/bun\.exe install$/m, log);
    // Scripts call `bun` by name: it is on their PATH too.
    assert.match(w.liveFile('built.txt'), /^1\.\d+\.\d+/);
    assert.ok(fs.existsSync(path.join(w.apps, 'sample', r.json().release, 'node_modules', 'lib')));
  }
});

test('a Bun found on PATH under /tmp (a clone of toes there) still runs the build inside the sandbox', async (t) => {
  // The sandbox gives the build a private, empty /tmp: the folder `bun` is found in, and
  // the binary it leads to, must be opened again inside, read-only.
  const bin = tmpDir('toes-rev-tmpbun-');
  t.after(() => fs.rmSync(bin, { recursive: true, force: true }));
  assert.ok(bin.startsWith('/tmp/'), bin);
  const bun = path.resolve('node_modules/bun/bin/bun.exe');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(bun, path.join(bin, 'bun'));
  const w = await makeWorld({ files: { ...appFiles('v1'), 'package.json': pkg({ predeploy: 'bun --version > built.txt' }) } });
  t.after(() => w.close());
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env: { PATH: `${bin}:/usr/bin:/bin`, TOES_RUNTIME: 'node' } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(w.liveFile('built.txt'), /^1\.\d+\.\d+/);
});
