// Names a hostile or unlucky source can send: each is refused with its own clear sentence
// (never "bug in toes-rev"), and what reaches the terminal never carries raw control bytes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'node:test';
import { BlobStore } from '../../src/fetch/blobs.js';
import { checkEntries, checkRelativePath, displayName, type Entry } from '../../src/fetch/snapshot.js';
import { fetchTarball } from '../../src/fetch/tarball.js';
import { assertOneSentence, assertRevError, assertRevErrorSync, makeTar, tarHeader, tempDir, type TarEntry } from '../fixtures/tar.js';

const file = (p: string): Entry => ({ path: p, kind: 'file', oid: 'f'.repeat(40) });

/** No byte below 0x20 (ESC, newline, carriage return…) and no DEL/C1 control in `text`. */
function assertPrintable(text: string): void {
  assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(text));
}

async function refuseArchive(t: Parameters<typeof tempDir>[0], tar: Buffer, match: RegExp) {
  const base = tempDir(t);
  const tmpRoot = path.join(base, 'tmp');
  fs.mkdirSync(tmpRoot);
  const file = path.join(base, 'a.tar.gz');
  fs.writeFileSync(file, zlib.gzipSync(tar));
  const err = await assertRevError(fetchTarball(file, { tmpRoot, blobs: new BlobStore(path.join(base, 'blobs')) }), 'UNSAFE_ENTRY', match);
  assertPrintable(err.message);
  assertOneSentence(err.message);
  assert.deepEqual(fs.readdirSync(tmpRoot), [], 'the unpack directory is removed');
  return err;
}

const APP: TarEntry[] = [{ path: 'package.json', content: '{"name":"app"}\n' }];

test('displayName escapes terminal control sequences and cuts very long names', () => {
  assert.equal(displayName('a\u001b[2Jb\nc'), 'a\\x1b[2Jb\\x0ac');
  assert.equal(displayName('ok/name.js'), 'ok/name.js');
  assert.equal(displayName('x\u202ey'), 'x\\u202ey', 'a right-to-left override cannot reorder what is shown');
  const long = displayName('n'.repeat(5000));
  assert.ok(long.length < 260, `${long.length} characters shown`);
  assert.match(long, /\(5000 characters\)$/);
});

test('a tar entry named with ESC sequences and newlines is refused without them reaching the message', async (t) => {
  const evil = '\u001b[2J\u001b[1;1HDeployed OK\n../../etc/x';
  const err = await refuseArchive(t, makeTar([...APP, { path: evil, content: 'x' }], {}), /climbs out/);
  assert.match(err.message, /\\x1b\[2J/);
  assert.equal(err.data.path, evil, 'the data keeps the real name for --json');
});

test('a 5,000-character name is refused as too long, not an unexpected error', async (t) => {
  const name = 'a'.repeat(5000) + '.js';
  await refuseArchive(t, makeTar([...APP, { path: name, content: 'x', pax: { path: name } }]), /longer than 3,800 bytes/);
  assertRevErrorSync(() => checkRelativePath(`dir/${'b'.repeat(256)}`), 'UNSAFE_ENTRY', /name longer than 255 bytes/);
  assert.equal(checkRelativePath(`dir/${'b'.repeat(255)}`), `dir/${'b'.repeat(255)}`);
});

test('two Latin-1 names that would decode to the same text are refused as not UTF-8', async (t) => {
  // "café" and "cafè" in Latin-1: both decode to "caf\uFFFD".
  const raw = (name: Buffer): Buffer => {
    const h = tarHeader({ path: 'x'.repeat(name.length), typeflag: '0', size: 0 });
    name.copy(h, 0);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    Buffer.from(sum.toString(8).padStart(6, '0') + '\0 ').copy(h, 148);
    return h;
  };
  const pkg = makeTar(APP, { noTrailer: true });
  const tar = Buffer.concat([pkg, raw(Buffer.from([0x63, 0x61, 0x66, 0xe9])), raw(Buffer.from([0x63, 0x61, 0x66, 0xe8])), Buffer.alloc(1024)]);
  await refuseArchive(t, tar, /not valid UTF-8/);
});

test('.git in any case, or with characters HFS+ ignores, is refused', () => {
  for (const p of ['.GIT/config', '.Git/hooks/post-checkout', 'sub/.gIt/config', '.git\u200c/config', '.git./config', '.git /config']) {
    assertRevErrorSync(() => checkRelativePath(p), 'UNSAFE_ENTRY', /\.git directory/);
  }
  assert.equal(checkRelativePath('.github/workflows/ci.yml'), '.github/workflows/ci.yml');
  assert.equal(checkRelativePath('.gitignore'), '.gitignore');
});

test('a tree with a file and a directory of the same name is refused by name', () => {
  const err = assertRevErrorSync(() => checkEntries([file('package.json'), file('lib'), file('lib/index.js')]), 'UNSAFE_ENTRY', /lies below "lib", which the tree also has as a file/);
  assertOneSentence(err.message);
});
