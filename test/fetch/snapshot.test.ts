import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEntries, checkLinkTarget, checkRelativePath, hasPackageJson, type Entry } from '../../src/fetch/snapshot.js';
import { assertOneSentence, assertRevErrorSync } from '../fixtures/tar.js';

const file = (p: string): Entry => ({ path: p, kind: 'file', oid: 'f'.repeat(40) });
const link = (p: string, target: string): Entry => ({ path: p, kind: 'symlink', oid: 'a'.repeat(40), target });

test('checkRelativePath accepts plain relative paths', () => {
  for (const p of ['a', 'package.json', 'src/index.js', 'a/b/c/d.txt', '.gitignore', '.github/workflows/ci.yml', 'x..y', '...', 'dir/.hidden']) {
    assert.equal(checkRelativePath(p), p);
  }
});

test('checkRelativePath refuses paths that climb, are absolute or are not normalized, with UNSAFE_ENTRY', () => {
  const cases: [string, RegExp][] = [
    ['../x', /climbs out/],
    ['a/../../x', /climbs out/],
    ['a/..', /climbs out/],
    ['..', /climbs out/],
    ['/etc/x', /absolute/],
    ['/', /absolute/],
    ['C:/Windows/x', /absolute/],
    ['a\\..\\..\\x', /backslash/],
    ['a//b', /not a normalized/],
    ['./a', /not a normalized/],
    ['a/./b', /not a normalized/],
    ['a/', /not a normalized/],
    ['', /empty/],
    ['a\0b', /NUL/],
    ['.git/config', /\.git/],
    ['sub/.git/hooks/pre-commit', /\.git/],
  ];
  for (const [p, why] of cases) {
    const err = assertRevErrorSync(() => checkRelativePath(p), 'UNSAFE_ENTRY', why);
    assert.equal(err.data.path, p);
  }
});

test('checkLinkTarget accepts links that stay inside', () => {
  checkLinkTarget('lib', 'src');
  checkLinkTarget('lib', './src/../src');
  checkLinkTarget('here', '.');
  checkLinkTarget('a/b/c', '../../x');
  checkLinkTarget('a/b', '..');
  checkLinkTarget('dangling', 'does/not/exist');
});

test('checkLinkTarget refuses links that leave or are absolute', () => {
  assertRevErrorSync(() => checkLinkTarget('link', '../../etc'), 'UNSAFE_ENTRY', /leading outside/);
  assertRevErrorSync(() => checkLinkTarget('link', '..'), 'UNSAFE_ENTRY', /leading outside/);
  assertRevErrorSync(() => checkLinkTarget('a/b', '../..'), 'UNSAFE_ENTRY', /leading outside/);
  assertRevErrorSync(() => checkLinkTarget('a/b', 'c/../../../x'), 'UNSAFE_ENTRY', /leading outside/);
  assertRevErrorSync(() => checkLinkTarget('link', '/etc/passwd'), 'UNSAFE_ENTRY', /absolute path/);
  assertRevErrorSync(() => checkLinkTarget('link', ''), 'UNSAFE_ENTRY', /empty target/);
  // A ".." that passes through a missing name is refused: it cannot be proven to stay inside.
  assertRevErrorSync(() => checkLinkTarget('link', 'missing/../..'), 'UNSAFE_ENTRY', /leading outside/);
});

test('checkLinkTarget follows the other links of the tree when given them', () => {
  const links = new Map([
    ['a', '.'],
    ['sub/up', '..'],
  ]);
  // Lexically "a/.." is ".", but a is the root itself, so a/.. is the root's parent.
  checkLinkTarget('b', 'a/..');
  assertRevErrorSync(() => checkLinkTarget('b', 'a/..', links), 'UNSAFE_ENTRY', /leading outside/);
  assertRevErrorSync(() => checkLinkTarget('c', 'sub/up/..', links), 'UNSAFE_ENTRY', /leading outside/);
  checkLinkTarget('d', 'sub/up/sub', links);
  checkLinkTarget('e', 'a/a/a/sub', links);
});

test('checkEntries accepts an ordinary tree with in-tree links', () => {
  checkEntries([file('package.json'), file('src/index.js'), link('lib', 'src'), link('src/main.js', 'index.js'), link('bin/app', '../src/index.js')]);
  // Chains that stay inside, in any order.
  checkEntries([link('a', 'b'), link('b', 'c'), link('c', 'src'), file('src/x')]);
  checkEntries([link('self', '.'), file('x')]);
});

test('checkEntries refuses duplicates and entries below a symlink', () => {
  assertRevErrorSync(() => checkEntries([file('a'), file('a')]), 'UNSAFE_ENTRY', /appears twice/);
  assertRevErrorSync(() => checkEntries([link('a', 'sub'), file('a/x')]), 'UNSAFE_ENTRY', /below the symlink "a"/);
  assertRevErrorSync(() => checkEntries([file('a/b/x'), link('a', '.')]), 'UNSAFE_ENTRY', /below the symlink "a"/);
});

test('checkEntries refuses a link that escapes only through another link, whatever the order', () => {
  const escape = /"b" is a symlink leading outside/;
  assertRevErrorSync(() => checkEntries([link('a', '.'), link('b', 'a/..')]), 'UNSAFE_ENTRY', escape);
  assertRevErrorSync(() => checkEntries([link('b', 'a/..'), link('a', '.')]), 'UNSAFE_ENTRY', escape);
  assertRevErrorSync(() => checkEntries([link('d/x', '..'), link('b', 'd/x/..')]), 'UNSAFE_ENTRY', escape);
  assertRevErrorSync(() => checkEntries([link('a', 'b'), link('b', '..')]), 'UNSAFE_ENTRY', /leading outside/);
});

test('checkEntries refuses symlink loops rather than looping', () => {
  assertRevErrorSync(() => checkEntries([link('a', 'b'), link('b', 'a')]), 'UNSAFE_ENTRY', /loop/);
  assertRevErrorSync(() => checkEntries([link('self', 'self')]), 'UNSAFE_ENTRY', /loop/);
  assertRevErrorSync(() => checkEntries([link('a', 'a/b')]), 'UNSAFE_ENTRY', /loop/);
});

test('checkEntries refuses unsafe paths and absolute link targets', () => {
  assertRevErrorSync(() => checkEntries([file('ok'), file('../x')]), 'UNSAFE_ENTRY', /climbs out/);
  assertRevErrorSync(() => checkEntries([link('passwd', '/etc/passwd')]), 'UNSAFE_ENTRY', /absolute path/);
  assertRevErrorSync(() => checkEntries([link('up', '../../etc')]), 'UNSAFE_ENTRY', /leading outside/);
});

test('every refusal message is one sentence that names the entry', () => {
  for (const fn of [() => checkRelativePath('../x'), () => checkLinkTarget('l', '/x'), () => checkEntries([link('a', '.'), link('b', 'a/..')])]) {
    try {
      fn();
      assert.fail('expected a refusal');
    } catch (err) {
      assertOneSentence((err as Error).message);
      assert.match((err as Error).message, /^Refused to deploy: the entry "/);
    }
  }
});

test('hasPackageJson wants a real package.json at the top', () => {
  assert.ok(hasPackageJson([file('package.json')]));
  assert.ok(!hasPackageJson([link('package.json', 'x/package.json')]));
  assert.ok(!hasPackageJson([file('app/package.json')]));
});
