// A repository whose tree tries to escape the release: refused, nothing published.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { git } from '../../fixtures/repo.js';
import { makeWorld, leftovers } from '../../fixtures/world.js';

function hashObject(cwd: string, type: string, data: Buffer): string {
  return execFileSync('git', ['hash-object', '-t', type, '-w', '--literally', '--stdin'], { cwd, input: data }).toString().trim();
}

/** Commits a hand-made tree (names git itself would never write) on top of main and pushes it. */
function pushRawTree(work: string, entries: { mode: string; name: string; oid: string }[]): void {
  const body = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')])));
  const tree = hashObject(work, 'tree', body);
  const commit = git(work, 'commit-tree', tree, '-p', 'HEAD', '-m', 'hostile');
  git(work, 'update-ref', 'refs/heads/main', commit);
  git(work, 'push', '-q', '-f', 'origin', 'main');
}

function pushSymlink(work: string, name: string, target: string): void {
  fs.symlinkSync(target, path.join(work, name));
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'link');
  git(work, 'push', '-q', 'origin', 'HEAD:main');
}

const cases: [string, (work: string) => void][] = [
  [
    'a tree entry named ..',
    (work) => {
      const pkg = git(work, 'rev-parse', 'HEAD:package.json');
      const blob = hashObject(work, 'blob', Buffer.from('pwned'));
      pushRawTree(work, [
        { mode: '100644', name: '..', oid: blob },
        { mode: '100644', name: 'package.json', oid: pkg },
      ]);
    },
  ],
  [
    'a .git directory inside the tree',
    (work) => {
      const pkg = git(work, 'rev-parse', 'HEAD:package.json');
      const hook = hashObject(work, 'blob', Buffer.from('#!/bin/sh\necho pwned\n'));
      const sub = hashObject(work, 'tree', Buffer.concat([Buffer.from('100755 config\0'), Buffer.from(hook, 'hex')]));
      pushRawTree(work, [
        { mode: '40000', name: '.git', oid: sub },
        { mode: '100644', name: 'package.json', oid: pkg },
      ]);
    },
  ],
  ['a symlink leading out of the release', (work) => pushSymlink(work, 'escape', '../../../../etc')],
  ['an absolute symlink', (work) => pushSymlink(work, 'passwd', '/etc/passwd')],
];

for (const [name, make] of cases) {
  test(`a repository with ${name} is refused and nothing is published`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const live = w.live();
    make(w.repo.work);
    const r = await w.toes(['deploy', 'sample', '--json']);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json().error.code, 'UNSAFE_ENTRY');
    assert.match(r.stderr, /Refused to deploy/);
    assert.equal(w.live(), live);
    assert.deepEqual(leftovers(w), []);
    assert.equal(fs.readdirSync(path.join(w.apps, 'sample')).length, 2);
    assert.equal(fs.existsSync(path.join(w.apps, 'pwned')), false);
  });
}
