// A known archive is known before it is unpacked: a local one by its hash, a remote one
// by the validators its server sent with the bytes last hashed. Redeploying it then
// skips the fetch (no download, no unpack: the scratch directory is never even made),
// and the stages say why.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Layout, resolveRoots } from '../../../src/releases/paths.js';
import { run, tmpDir } from '../../fixtures/cli.js';
import { appFiles } from '../../fixtures/repo.js';
import { makeTarGz } from '../../fixtures/tar.js';

function archive(version: string): Buffer {
  return makeTarGz(Object.entries(appFiles(version)).map(([p, content]) => ({ path: `app-${version}/${p}`, content })));
}

function stage(res: any, name: string): any {
  return res.stages.find((s: any) => s.name === name);
}

test('a local archive already live, or sealed, is hashed and not unpacked', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const layout = new Layout(resolveRoots({ dataDir: data }, {}));
  const file = path.join(data, 'app.tar.gz');
  const deploy = async (args: string[] = []) => {
    const r = await run(data, ['deploy', 'sample', '--no-install', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.json();
  };
  fs.writeFileSync(file, archive('v1'));
  const first = await deploy(['--from', file]);
  assert.equal(first.version, createHash('sha256').update(fs.readFileSync(file)).digest('hex'));

  const again = await deploy();
  assert.equal(again.status, 'unchanged');
  assert.equal(stage(again, 'probe').skipped, undefined);
  assert.equal(stage(again, 'fetch').skipped, true);
  assert.match(stage(again, 'fetch').reason, /is already live/);
  // recover emptied the scratch space and nothing made it again: nothing was unpacked.
  assert.equal(fs.existsSync(layout.tmpDir('sample')), false);

  fs.writeFileSync(file, archive('v2'));
  const second = await deploy();
  assert.equal(stage(second, 'fetch').skipped, undefined);
  assert.equal(fs.readFileSync(path.join(layout.currentLink('sample'), 'VERSION'), 'utf8'), 'v2\n');

  // Back to the first bytes: its sealed release is reused, still without an unpack.
  fs.writeFileSync(file, archive('v1'));
  const back = await deploy();
  assert.equal(back.reused, true);
  assert.equal(back.release, first.release);
  assert.match(stage(back, 'fetch').reason, /has a sealed release/);
  assert.equal(fs.existsSync(layout.tmpDir('sample')), false);
});

test('a remote archive with unchanged validators is not downloaded again; changed ones are', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  let bytes = archive('v1');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.method ?? '');
    const etag = `"${createHash('sha1').update(bytes).digest('hex')}"`;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': bytes.length, etag });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app.tar.gz`;
  const deploy = async (args: string[] = []) => {
    const r = await run(data, ['deploy', 'sample', '--no-install', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.json();
  };

  const first = await deploy(['--from', url]);
  assert.deepEqual(requests, ['GET']);
  const again = await deploy();
  assert.equal(again.status, 'unchanged');
  assert.equal(again.version, first.version);
  assert.match(stage(again, 'fetch').reason, /is already live/);
  assert.equal(again.bytesFetched, 0);
  assert.deepEqual(requests, ['GET', 'HEAD'], 'the archive was downloaded again');

  bytes = archive('v2');
  const second = await deploy();
  assert.deepEqual(requests, ['GET', 'HEAD', 'HEAD', 'GET']);
  assert.notEqual(second.version, first.version);
  assert.equal(second.version, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(stage(second, 'fetch').skipped, undefined);

  // --force builds again: it never trusts what it remembers.
  const forced = await deploy(['--force']);
  assert.equal(forced.version, second.version);
  assert.equal(requests.at(-1), 'GET');
});
