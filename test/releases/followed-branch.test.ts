// The one definition of the branch an app follows, shared by the webhook receiver and the
// deploy's probe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { followedBranch, fullRef, liveRecord } from '../../src/releases/followed-branch.js';
import type { ReleaseRecord } from '../../src/releases/log.js';

const SOURCE = 'https://git.example/me/app.git';
const rec = (id: string, status: ReleaseRecord['status'], ref?: string, source = SOURCE): ReleaseRecord => ({ id, version: id, kind: 'git', status, source, ref, createdAt: '', trigger: 'cli' });

test('the setting, else the live release\'s branch (from the same source), else none', () => {
  const live = rec('2', 'live', 'refs/heads/staging');
  assert.equal(followedBranch({ branch: 'production', source: SOURCE }, live), 'production');
  assert.equal(followedBranch({ source: SOURCE }, live), 'refs/heads/staging');
  // The receiver may not know the source (taken from package.json): the live release's branch stands.
  assert.equal(followedBranch({}, live), 'refs/heads/staging');
  // Another repository (a new --from), a tag, a bare commit, a directory, no release: none.
  assert.equal(followedBranch({ source: 'https://git.example/me/other.git' }, live), undefined);
  assert.equal(followedBranch({ source: SOURCE }, rec('2', 'live', 'refs/tags/v1')), undefined);
  assert.equal(followedBranch({ source: SOURCE }, rec('2', 'live')), undefined);
  assert.equal(followedBranch({ source: 'dir:/srv/app' }, rec('2', 'live', undefined, 'dir:/srv/app')), undefined);
  assert.equal(followedBranch({ source: SOURCE }, undefined), undefined);
});

test('the live record is the last one logged live; refs are named in full', () => {
  assert.equal(liveRecord([rec('1', 'previous'), rec('2', 'live'), rec('3', 'failed')])?.id, '2');
  assert.equal(liveRecord([rec('1', 'failed')]), undefined);
  assert.deepEqual(['main', 'heads/main', 'refs/heads/main', 'tags/v1'].map(fullRef), ['refs/heads/main', 'refs/heads/main', 'refs/heads/main', 'refs/tags/v1']);
});
