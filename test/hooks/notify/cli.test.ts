// `toes notify` and what `toes deploy` leaves behind, on Node and on Bun: the events of a
// command's deploy go out through the sender it starts, and a receiver that never answers
// does not hold the deploy up.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { senderLock } from '../../../src/hooks/notify/outbox.js';
import type { Layout } from '../../../src/releases/paths.js';
import { makeWorld } from '../../fixtures/world.js';
import { eventReceiver } from './servers.js';

/** The sender a command left behind, ended by its pid (it may hold a hanging request for a while). */
function stopSender(layout: Layout): void {
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(senderLock(layout), 'owner.json'), 'utf8'));
    process.kill(pid, 'SIGKILL');
  } catch {}
}

async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const runtime of ['node', 'bun'] as const) {
  const env = { TOES_RUNTIME: runtime };

  test(`${runtime}: notify add, list, test and remove; a deploy's events arrive, signed, from the sender it leaves behind`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    t.after(() => stopSender(w.layout));
    const r = await eventReceiver(t);
    const add = await w.toes(['notify', 'add', 'sample', `${r.url}/hook/secret-path`, '--json'], { env });
    assert.equal(add.code, 0, add.stderr);
    const { id, secret } = add.json();
    r.secret = secret;
    assert.match(secret, /^whsec_/);
    const listed = await w.toes(['notify', 'list', 'sample'], { env });
    assert.match(listed.stdout, new RegExp(`${id}\\s+webhook`));
    assert.ok(!listed.stdout.includes('secret-path'), 'list shows the whole URL');
    const bad = await w.toes(['notify', 'add', 'sample', 'not a url'], { env });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);

    const tested = await w.toes(['notify', 'test', 'sample', '--json'], { env });
    assert.equal(tested.code, 0, tested.stderr);
    assert.equal(r.received.at(-1)?.body.type, 'notify.test');
    assert.equal(r.received.at(-1)?.verified, true);

    const dep = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--json'], { env });
    assert.equal(dep.code, 0, dep.stderr);
    const done = await r.waitFor((x) => x.body?.type === 'deploy.succeeded', 'deploy.succeeded');
    assert.equal(done.verified, true);
    assert.equal(done.body.data.commit, dep.json().commit);
    assert.ok(r.received.some((x) => x.body?.type === 'deploy.started' && x.verified));

    // No token, no statuses, and the status says why.
    assert.equal((await w.toes(['config', 'set', 'sample', 'source', 'https://git.example.com/me/app.git'], { env })).code, 0);
    assert.equal((await w.toes(['config', 'set', 'sample', 'status.forge', 'forgejo'], { env })).code, 0);
    assert.equal((await w.toes(['config', 'set', 'sample', 'status.api', 'https://git.example.com/api/v1'], { env })).code, 0);
    const st = await w.toes(['webhook', 'status', 'sample'], { env });
    assert.match(st.stdout, /statuses: off \(no FORGE_TOKEN for git\.example\.com/);

    assert.equal((await w.toes(['notify', 'remove', 'sample', id], { env })).code, 0);
    assert.match((await w.toes(['notify', 'list', 'sample'], { env })).stdout, /No receivers/);
  });

  test(`${runtime}: a deploy returns while a receiver still holds its event unanswered`, async (t) => {
    const w = await makeWorld();
    t.after(() => w.close());
    t.after(() => stopSender(w.layout));
    const r = await eventReceiver(t, 'hang');
    assert.equal((await w.toes(['notify', 'add', 'sample', `${r.url}/hook`], { env })).code, 0);
    assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'], { env })).code, 0);
    await until(() => r.open() > 0, 'the receiver to hold an event');
    // The sender is stuck on that request; a deploy now does not wait for it.
    const again = await w.toes(['deploy', 'sample', '--force', '--no-install', '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json().ok, true);
    assert.ok(r.open() > 0, 'the held request was let go before the deploy returned');
  });
}
