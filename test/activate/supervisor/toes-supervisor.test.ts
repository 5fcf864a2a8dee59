// Activation against a real Toes-like supervisor running real Bun apps: what version
// answers over HTTP is the assertion.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { answer, supervisedWorld, webApp } from '../../fixtures/apps.js';
import { startUntil } from '../../fixtures/cli.js';
import type { World } from '../../fixtures/world.js';

async function setup(t: TestContext): Promise<{ w: World; port: number; env: Record<string, string> }> {
  return supervisedWorld(t);
}

test('deploy, change, roll back, roll forward, and a broken release rolled back by itself', async (t) => {
  const { w, port, env } = await setup(t);
  const d1 = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env });
  assert.equal(d1.code, 0, d1.stderr + d1.stdout);
  assert.equal(await answer(port), 'v1');

  w.repo.commit(webApp('v2'));
  const d2 = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(d2.code, 0, d2.stderr);
  assert.equal(await answer(port), 'v2');

  const back = await w.toes(['rollback', 'sample', '--json'], { env });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(await answer(port), 'v1');

  const fwd = await w.toes(['rollback', 'sample', d2.json().release, '--json'], { env });
  assert.equal(fwd.code, 0, fwd.stderr);
  assert.equal(await answer(port), 'v2');

  w.repo.commit(webApp('v3', 'crash'));
  const d3 = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(d3.code, 1);
  const res = d3.json();
  assert.equal(res.error.code, 'UNHEALTHY');
  assert.match(res.error.message, /Rolled back by itself/);
  assert.equal(await answer(port), 'v2');
  assert.equal(w.live(), d2.json().release);
  const rels = (await w.toes(['releases', 'sample', '--json'], { env })).json();
  const bad = rels.find((r: any) => r.id === res.release);
  assert.equal(bad.status, 'bad');
  assert.equal(rels.find((r: any) => r.live).id, d2.json().release);

  // The bad version is not deployed again without --force.
  const again = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(again.code, 1);
  assert.equal(again.json().error.code, 'BAD_RELEASE');
  assert.equal(await answer(port), 'v2');

  // A plain rollback skips bad releases: from v2 it goes to v1.
  const rb = await w.toes(['rollback', 'sample', '--json'], { env });
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(await answer(port), 'v1');
});

for (const [variant, what] of [
  ['sick', 'answers 500 on /ok'],
  ['silent', 'never binds its port'],
] as const) {
  test(`a release that ${what} is flipped back and recorded bad`, async (t) => {
    const { w, port, env } = await setup(t);
    assert.equal((await w.toes(['config', 'set', 'sample', 'health.timeout', '3'])).code, 0);
    assert.equal((await w.toes(['deploy', 'sample', '--from', w.url], { env })).code, 0);
    assert.equal(await answer(port), 'v1');
    w.repo.commit(webApp('v2', variant));
    const r = await w.toes(['deploy', 'sample', '--json'], { env });
    assert.equal(r.code, 1);
    assert.equal(r.json().error.code, 'UNHEALTHY');
    assert.match(r.json().error.message, variant === 'sick' ? /HTTP 500/ : /did not answer/);
    // It names the URL it polled and the setting to check.
    assert.ok(r.json().error.message.includes(`http://127.0.0.1:${port}/ok`), r.json().error.message);
    assert.match(r.json().error.message, /`health\.url`/);
    assert.equal(await answer(port), 'v1');
  });
}

test('the supervisor unreachable: the swap stays only because health still passes, and says so', async (t) => {
  const { w, port, env } = await setup(t);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url], { env })).code, 0);
  w.repo.commit(webApp('v2'));
  const r = await w.toes(['deploy', 'sample', '--json'], { env: { TOES_URL: 'http://127.0.0.1:9' } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.json().notes.some((n: string) => /could not be reached/.test(n)), JSON.stringify(r.json().notes));
  // Nothing restarted the app: the old process still serves.
  assert.equal(await answer(port), 'v1');
});

test('a proxy named in the environment is not used to reach the supervisor or the app', async (t) => {
  const { w, port, env } = await setup(t);
  let proxied = 0;
  const proxy = net.createServer((s) => {
    proxied++;
    s.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => proxy.close());
  const viaProxy = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  const d1 = await w.toes(['deploy', 'sample', '--from', w.url, '--json'], { env });
  assert.equal(d1.code, 0, d1.stderr);
  w.repo.commit(webApp('v2'));
  assert.equal((await w.toes(['deploy', 'sample'], { env })).code, 0);
  const back = await w.toes(['rollback', 'sample', d1.json().release, '--json'], { env: { ...env, HTTP_PROXY: viaProxy, http_proxy: viaProxy } });
  assert.equal(back.code, 0, back.stderr + back.stdout);
  assert.equal(await answer(port), 'v1');
  assert.equal(proxied, 0);
});

test('kill -9 between the swap and the health check: the next command finishes the activation', async (t) => {
  const { w, port, env } = await setup(t);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url], { env })).code, 0);
  const good = w.live();
  w.repo.commit(webApp('v2', 'crash'));
  const p = startUntil(w.data, ['deploy', 'sample'], 'failpoint verify reached', { env: { ...env, TOES_REV_FAILPOINT: 'verify' } });
  await p.reached;
  p.child.kill('SIGKILL');
  await p.closed;
  const unchecked = w.live();
  assert.notEqual(unchecked, good); // swapped, never checked
  // releases only reads: it leaves `current` on the unchecked release and names the repair.
  const list = await w.toes(['releases', 'sample', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stderr, /recovery pending: restart and health-check release .*`toes deploy sample`/);
  assert.equal(w.live(), unchecked);
  // The next deploy finishes the activation first (flips back, marks it bad), then refuses
  // to deploy that bad version again.
  const redo = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(redo.json().error.code, 'BAD_RELEASE');
  assert.equal(w.live(), good);
  assert.equal(await answer(port), 'v1');
  assert.equal((await w.toes(['releases', 'sample', '--json'], { env })).json().at(-1).status, 'bad');

  // And a healthy one interrupted the same way is kept.
  w.repo.commit(webApp('v3'));
  const q = startUntil(w.data, ['deploy', 'sample'], 'failpoint verify reached', { env: { ...env, TOES_REV_FAILPOINT: 'verify' } });
  await q.reached;
  q.child.kill('SIGKILL');
  await q.closed;
  const next = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(next.code, 0, next.stderr);
  assert.equal(await answer(port), 'v3');
  assert.ok(next.json().unchanged);
});
