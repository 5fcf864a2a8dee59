import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { run, tmpDir } from '../../fixtures/cli.js';
import { appFiles, git, makeRepo } from '../../fixtures/repo.js';
import { serve } from '../../fixtures/serve.js';

function writeTree(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

/** A data directory and a folder for the source repository, both removed after the test. */
function scratch(t: TestContext): { data: string; root: string } {
  const data = tmpDir();
  const root = tmpDir('toes-rev-src-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return { data, root };
}

test('a local directory (moving off deploy.sh): .gitignore respected, content-hash versions, reuse', async (t) => {
  const data = tmpDir();
  const src = tmpDir('toes-rev-dir-');
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  t.after(() => fs.rmSync(src, { recursive: true, force: true }));
  writeTree(src, { ...appFiles('v1'), '.gitignore': 'secrets.env\n*.log\n', 'secrets.env': 'X=1', 'debug.log': 'x', 'node_modules/junk/index.js': 'x', 'sub/.gitignore': 'local.txt\n', 'sub/local.txt': 'x', 'sub/kept.txt': 'kept' });
  fs.symlinkSync('sub/kept.txt', path.join(src, 'link.txt'));
  const r1 = await run(data, ['deploy', 'sample', '--from', src, '--no-install', '--json']);
  assert.equal(r1.code, 0, r1.stderr);
  const live = path.join(data, 'apps/sample/current');
  assert.equal(fs.readFileSync(path.join(live, 'VERSION'), 'utf8'), 'v1\n');
  assert.equal(fs.readFileSync(path.join(live, 'link.txt'), 'utf8'), 'kept');
  for (const gone of ['secrets.env', 'debug.log', 'node_modules', 'sub/local.txt']) assert.equal(fs.existsSync(path.join(live, gone)), false, gone);
  assert.match(r1.json().version, /^[0-9a-f]{40}$/);

  // Same content again: nothing to do.
  const same = await run(data, ['deploy', 'sample', '--no-install', '--json']);
  assert.equal(same.json().unchanged, true);
  assert.equal(JSON.parse(fs.readFileSync(path.join(data, 'rev/apps/sample/config.json'), 'utf8')).source, `dir:${src}`);

  fs.writeFileSync(path.join(src, 'VERSION'), 'v2\n');
  const r2 = await run(data, ['deploy', 'sample', '--no-install', '--json']);
  assert.equal(r2.json().ok, true);
  assert.equal(fs.readFileSync(path.join(live, 'VERSION'), 'utf8'), 'v2\n');
  // Back to the v1 content: the sealed release is reused (content hash is the version).
  fs.writeFileSync(path.join(src, 'VERSION'), 'v1\n');
  const r3 = (await run(data, ['deploy', 'sample', '--no-install', '--json'])).json();
  assert.equal(r3.reused, true);
  assert.equal(r3.release, r1.json().release);
  const statuses = (await run(data, ['releases', 'sample', '--json'])).json().map((r: any) => r.status);
  assert.ok(!statuses.includes('failed'), statuses.join());
});

test('a local git repository path deploys its committed branch, not the work tree', async (t) => {
  const { data, root } = scratch(t);
  const repo = makeRepo(root, 'app.git', appFiles('v1'));
  fs.writeFileSync(path.join(repo.work, 'VERSION'), 'uncommitted\n');
  const r = await run(data, ['deploy', 'sample', '--from', repo.work, '--no-install', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json().commit, git(repo.work, 'rev-parse', 'HEAD'));
  assert.equal(fs.readFileSync(path.join(data, 'apps/sample/current/VERSION'), 'utf8'), 'v1\n');
  // file:// to a bare repository works as well.
  const b = await run(data, ['deploy', 'other', '--from', `file://${repo.bare}`, '--no-install', '--json']);
  assert.equal(b.code, 0, b.stderr);
});

test('a .tar.gz archive: the top folder is stripped and the archive hash is the version', async (t) => {
  const { data, root } = scratch(t);
  const repo = makeRepo(root, 'app.git', appFiles('v1'));
  const archive = path.join(root, 'sample.tar.gz');
  execFileSync('git', ['archive', '--format=tar.gz', '--prefix=sample-abc123/', '-o', archive, 'HEAD'], { cwd: repo.work });
  const r = await run(data, ['deploy', 'sample', '--from', archive, '--no-install', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.json().version, /^[0-9a-f]{64}$/);
  assert.equal(fs.readFileSync(path.join(data, 'apps/sample/current/VERSION'), 'utf8'), 'v1\n');
  const refd = await run(data, ['deploy', 'sample', '--ref', 'main', '--json']);
  assert.equal(refd.code, 2);
  assert.equal(refd.json().error.code, 'USAGE');
});

test('an archive served with content-encoding gzip (as some servers label .tar.gz) is unpacked from the bytes as sent', async (t) => {
  const { data, root } = scratch(t);
  const repo = makeRepo(root, 'app.git', appFiles('v1'));
  const bytes = execFileSync('git', ['archive', '--format=tar.gz', '--prefix=sample-abc123/', 'HEAD'], { cwd: repo.work });
  const base = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-tar', 'content-encoding': 'gzip', 'content-length': bytes.length });
    res.end(bytes);
  });
  const url = `${base}/sample.tar.gz`;
  const r = await run(data, ['deploy', 'sample', '--from', url, '--no-install', '--json']);
  assert.equal(r.code, 0, r.stderr);
  // A client that undid the encoding would hash (and try to gunzip) the bare tar.
  assert.equal(r.json().version, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(fs.readFileSync(path.join(data, 'apps/sample/current/VERSION'), 'utf8'), 'v1\n');
});

test('a source that does not exist is refused before anything happens', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const r = await run(data, ['deploy', 'sample', '--from', '/nonexistent/place', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.json().error.code, 'NO_SOURCE');
  assert.equal(fs.existsSync(new Layout(resolveRoots({ dataDir: data }, {})).appDir('sample')), false);
});
