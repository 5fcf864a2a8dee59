// Hostile trees and ref lists cost memory by what is distinct in them, not by what they
// expand to: a tree bomb is refused after reading its few distinct trees, and a ref list
// is read as it streams, keeping only the refs the deploy asked for.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { resolveGitRef } from '../../src/fetch/git-remote.js';
import { Budget, withDefaults } from '../../src/fetch/limits.js';
import { walkTree, type TreeReader } from '../../src/fetch/tree.js';
import { tmpDir } from '../fixtures/cli.js';
import { startGitServer } from '../fixtures/git-server.js';
import { git, makeRepo } from '../fixtures/repo.js';
import { assertRevError } from '../fixtures/tar.js';

/** Trees held in memory by id; counts every read. */
function memoryTrees(trees: Map<string, { mode: string; name: string; oid: string }[]>) {
  const reads: string[] = [];
  const reader: TreeReader = {
    tree: async (oid) => {
      reads.push(oid);
      const t = trees.get(oid);
      if (!t) throw new Error(`no tree ${oid}`);
      return t;
    },
    blobText: async () => 'x',
  };
  return { reader, reads };
}

const id = (n: number) => n.toString(16).padStart(40, '0');

/** 2^levels files from levels+1 distinct trees, each naming the one below twice. */
function bomb(levels: number) {
  const trees = new Map<string, { mode: string; name: string; oid: string }[]>();
  trees.set(id(1), [{ mode: '100644', name: 'f', oid: id(999_999) }]);
  for (let i = 2; i <= levels + 1; i++) {
    trees.set(id(i), [
      { mode: '40000', name: 'a', oid: id(i - 1) },
      { mode: '40000', name: 'b', oid: id(i - 1) },
    ]);
  }
  return { trees, root: id(levels + 1) };
}

test('a tree bomb of 2^40 paths is refused after reading each of its 41 trees once', async () => {
  const { trees, root } = bomb(40);
  const { reader, reads } = memoryTrees(trees);
  const err = await assertRevError(walkTree(root, reader, new Budget(withDefaults({ depth: 64 }))), 'LIMIT_EXCEEDED', /the limit\.entries limit/);
  assert.equal(err.data.limit, 'limit.entries');
  // The walk stopped before expanding anything: no tree was read twice.
  assert.ok(reads.length <= 41, `read ${reads.length} trees`);
  assert.equal(new Set(reads).size, reads.length);
});

test('a tree deeper than limit.depth is refused while it is measured, before any path is built', async () => {
  const trees = new Map<string, { mode: string; name: string; oid: string }[]>();
  trees.set(id(1), [{ mode: '100644', name: 'f', oid: id(999_999) }]);
  for (let i = 2; i <= 1000; i++) trees.set(id(i), [{ mode: '40000', name: 'd', oid: id(i - 1) }]);
  const { reader, reads } = memoryTrees(trees);
  const err = await assertRevError(walkTree(id(1000), reader, new Budget(withDefaults({ depth: 8 }))), 'LIMIT_EXCEEDED', /the limit\.depth limit/);
  assert.equal(err.data.limit, 'limit.depth');
  assert.ok(reads.length <= 10, `read ${reads.length} trees`);
});

test('a tree within the limits is walked whole, shared subtrees at each of their paths', async () => {
  const { trees, root } = bomb(4);
  const { reader } = memoryTrees(trees);
  // 16 files in 30 folders: exactly the limit passes, one fewer does not.
  const entries = await walkTree(root, reader, new Budget(withDefaults({ entries: 46 })));
  assert.equal(entries.length, 16);
  assert.ok(entries.some((e) => e.path === 'b/a/b/a/f'));
  await assertRevError(walkTree(root, reader, new Budget(withDefaults({ entries: 45 }))), 'LIMIT_EXCEEDED');
});

async function manyRefs(t: TestContext, count: number) {
  const root = tmpDir('toes-rev-refs-');
  const repo = makeRepo(root, 'app.git', { 'package.json': '{"name":"app"}\n' });
  repo.tag('v1');
  const head = git(repo.bare, 'rev-parse', 'refs/heads/main');
  // packed-refs written directly: `git update-ref` would take minutes for this many.
  const lines = ['# pack-refs with: peeled fully-peeled sorted '];
  const names = Array.from({ length: count }, (_, i) => `refs/heads/junk/${String(i).padStart(7, '0')}`);
  for (const n of names.sort()) lines.push(`${head} ${n}`);
  fs.writeFileSync(path.join(repo.bare, 'packed-refs'), lines.join('\n') + '\n');
  const server = await startGitServer(root);
  t.after(async () => {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { url: server.repoUrl('app.git'), head };
}

test('a long ref list is read as it streams and only the refs asked for are kept', async (t) => {
  const { url, head } = await manyRefs(t, 20_000);
  const def = await resolveGitRef(url, undefined, {});
  assert.equal(def.ref, 'refs/heads/main');
  assert.equal(def.commit, head);
  assert.deepEqual([...def.ad!.refs.keys()].sort(), ['HEAD', 'refs/heads/main']);
  const tag = await resolveGitRef(url, 'v1', {});
  assert.equal(tag.ref, 'refs/tags/v1');
  // HEAD and what it names come first in the list, and are kept for a deploy of the default branch.
  assert.deepEqual([...tag.ad!.refs.keys()].sort(), ['HEAD', 'refs/heads/main', 'refs/tags/v1']);
  const late = await resolveGitRef(url, 'junk/0019999', {});
  assert.equal(late.commit, head);
  assert.equal(late.ad!.refs.size, 3);
  await assertRevError(resolveGitRef(url, 'nope', {}), 'REF_NOT_FOUND');
});
