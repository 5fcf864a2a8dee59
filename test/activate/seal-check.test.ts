// A release changed after its seal does not go live again: rollback, a deploy reusing it and
// `toes releases --verify` compare it with what the seal recorded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { appFiles } from '../fixtures/repo.js';
import { makeWorld } from '../fixtures/world.js';

const runtimes = [{ bun: true }, { env: { TOES_RUNTIME: 'node' } }] as const;

for (const rt of runtimes) {
  const name = 'bun' in rt ? 'bun' : 'node';
  test(`${name}: rollback, a reused release and releases --verify refuse a release changed after its seal`, async (t) => {
    const w = await makeWorld({ files: appFiles('v1', { 'data/a.txt': 'a\n', 'data/b.txt': 'b\n' }) });
    t.after(() => w.close());
    const d1 = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], rt);
    assert.equal(d1.code, 0, d1.stderr);
    const r1 = d1.json().release;
    const commit1 = w.releaseLog().find((r) => r.id === r1).commit;
    // The second release is built on private copies (a predeploy runs), then relinked.
    w.repo.commit({ 'package.json': JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { toes: 'bun index.ts', predeploy: 'echo built > built.txt' } }) });
    const d2 = await w.toes(['deploy', 'sample', '--json'], rt);
    assert.equal(d2.code, 0, d2.stderr);
    const r2 = d2.json().release;

    // Untouched: both intact, and a rollback goes through (its shared files were linked again by the second deploy).
    const ok = await w.toes(['releases', 'sample', '--verify', '--json'], rt);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.json().map((r: any) => r.seal), ['intact', 'intact']);
    const back = await w.toes(['rollback', 'sample', '--json'], rt);
    assert.equal(back.code, 0, back.stderr + back.stdout);
    assert.equal(w.live(), r1);
    const fwd = await w.toes(['rollback', 'sample', r2, '--json'], rt);
    assert.equal(fwd.code, 0, fwd.stderr + fwd.stdout);

    // The app wrote a log and a database beside its files while it ran: not a reason to refuse the undo.
    const dir1 = path.join(w.apps, 'sample', r1);
    fs.writeFileSync(path.join(dir1, 'app.log'), 'started\n');
    fs.writeFileSync(path.join(dir1, 'data.db'), 'SQLite format 3\0');
    const written = await w.toes(['rollback', 'sample', r1, '--json'], rt);
    assert.equal(written.code, 0, written.stderr + written.stdout);
    assert.equal(w.live(), r1);
    assert.deepEqual(written.json().warnings, [`Release ${r1} has 2 files added since its seal that no runtime loads by itself (app.log added, data.db added), most likely written by the app while it ran; kept as they are.`]);
    const again = await w.toes(['rollback', 'sample', r2, '--json'], rt);
    assert.equal(again.code, 0, again.stderr + again.stdout);

    // What the finding saw: files of the previous release deleted and written anew.
    fs.rmSync(path.join(dir1, 'VERSION'));
    fs.writeFileSync(path.join(dir1, 'VERSION'), 'v1\n');
    fs.writeFileSync(path.join(dir1, '.env'), 'EXTRA=1\n');
    const refused = await w.toes(['rollback', 'sample', r1, '--json'], rt);
    assert.equal(refused.code, 1);
    const e = refused.json().error;
    assert.equal(e.code, 'RELEASE_CHANGED');
    assert.equal(e.message, `Release ${r1} of sample was changed after it was sealed (.env added, VERSION changed), so it will not go live; build that version again with \`toes deploy sample --ref ${commit1} --force\`.`);
    assert.equal(w.live(), r2);
    // A deploy of that version would reuse the release: refused the same way.
    const reuse = await w.toes(['deploy', 'sample', '--ref', commit1, '--json'], rt);
    assert.equal(reuse.code, 1, reuse.stdout);
    assert.equal(reuse.json().error.code, 'RELEASE_CHANGED');
    assert.equal(w.live(), r2);

    // A private file written in place with its mtime put back: its change time still tells.
    const built = path.join(w.apps, 'sample', r2, 'built.txt');
    const { atime, mtime } = fs.statSync(built);
    fs.writeFileSync(built, 'BUILT');
    fs.utimesSync(built, atime, mtime);
    const verify = await w.toes(['releases', 'sample', '--verify'], rt);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, new RegExp(`${r1} .*seal changed`));
    assert.match(verify.stdout, new RegExp(`${r2} .*seal changed`));
    assert.match(verify.stderr, new RegExp(`Release ${r2} of sample was changed after it was sealed \\(built\\.txt changed\\)`));
    assert.match(verify.stderr, new RegExp(`Release ${r1} of sample was changed after it was sealed`));

    // The way out the message names: the version built again, and it goes live.
    const rebuilt = await w.toes(['deploy', 'sample', '--ref', commit1, '--force', '--json'], rt);
    assert.equal(rebuilt.code, 0, rebuilt.stderr + rebuilt.stdout);
    assert.equal(w.liveFile('VERSION'), 'v1\n');
  });
}
