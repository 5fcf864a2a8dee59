// The command and signal adapters, each against real processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fillTemplate, splitWords } from '../../../src/activate/supervisor/plan.js';
import { answer, freePort, startSupervisor, webApp } from '../../fixtures/apps.js';
import { makeWorld, type World } from '../../fixtures/world.js';

async function setup(t: TestContext, settings: Record<string, string>, pidfile?: string) {
  const w = await makeWorld({ files: webApp('v1') });
  const port = await freePort();
  const sup = await startSupervisor(w.apps, { sample: port }, { pidfile });
  t.after(async () => {
    await sup.stop();
    await w.close();
  });
  const all = { 'health.url': `http://127.0.0.1:${port}/ok`, 'health.timeout': '5', ...settings };
  for (const [k, v] of Object.entries(all)) {
    const r = await w.toes(['config', 'set', 'sample', k, v.replace('SUP', sup.url)]);
    assert.equal(r.code, 0, r.stderr);
  }
  return { w, port, sup };
}

async function deployTwo(w: World, port: number): Promise<{ first: any; second: any }> {
  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.equal(await answer(port), 'v1');
  w.repo.commit(webApp('v2'));
  const second = await w.toes(['deploy', 'sample', '--json']);
  return { first: first.json(), second: second.json() };
}

const POST = `node -e "fetch(process.argv[1], { method: 'POST' }).then((r) => process.exit(r.ok ? 0 : 1))"`;

test('command adapter: a real restart command, run from an argument array', async (t) => {
  const { w, port } = await setup(t, { supervisor: 'command', restart: `${POST} SUP/api/apps/{app}/restart` });
  const { second } = await deployTwo(w, port);
  assert.equal(second.ok, true, JSON.stringify(second.error));
  assert.equal(await answer(port), 'v2');
  const human = await w.toes(['releases', 'sample']);
  assert.match(human.stdout, /supervisor: command \(node -e/);
});

for (const [name, restart, why] of [
  ['fails', `node -e "process.exit(3)"`, /exited with code 3/],
  ['hangs', `node -e "setTimeout(() => {}, 60000)"`, /did not finish within/],
  ['does not exist', `/nonexistent/restart-it {app}`, /not found/],
] as const) {
  test(`command adapter: a restart command that ${name} leaves the last good release serving`, async (t) => {
    const { w, port } = await setup(t, { supervisor: 'command', restart: `${POST} SUP/api/apps/{app}/restart`, 'health.timeout': '2' });
    assert.equal((await w.toes(['deploy', 'sample', '--from', w.url])).code, 0);
    assert.equal(await answer(port), 'v1');
    assert.equal((await w.toes(['config', 'set', 'sample', 'restart', restart])).code, 0);
    w.repo.commit(webApp('v2'));
    const r = await w.toes(['deploy', 'sample', '--json']);
    // The old process still answers, but a restart that failed is a failed activation.
    assert.equal(r.code, 1);
    assert.equal(r.json().error.code, 'UNHEALTHY');
    assert.match(r.json().error.message, why);
    assert.equal(await answer(port), 'v1');
    assert.equal(w.liveFile('VERSION'), 'v1\n');
  });
}

test('signal adapter: SIGHUP to the pid in a pidfile restarts the app', async (t) => {
  const dir = fs.mkdtempSync('/tmp/toes-rev-pid-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pidfile = path.join(dir, 'sup.pid');
  const { w, port, sup } = await setup(t, { supervisor: 'none' }, pidfile);
  // The first start goes through the supervisor's own route; later ones by signal.
  assert.equal((await w.toes(['config', 'unset', 'sample', 'health.url'])).code, 0);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url])).code, 0);
  await fetch(`${sup.url}/api/apps/sample/restart`, { method: 'POST' });
  for (const [k, v] of [['supervisor', 'signal'], ['pidfile', pidfile], ['signal', 'HUP'], ['health.url', `http://127.0.0.1:${port}/ok`]]) {
    assert.equal((await w.toes(['config', 'set', 'sample', k, v])).code, 0);
  }
  for (let i = 0; i < 50 && (await answer(port)) !== 'v1'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await answer(port), 'v1');
  w.repo.commit(webApp('v2'));
  const second = await w.toes(['deploy', 'sample', '--json']);
  assert.equal(second.code, 0, second.stderr);
  // A signal is fire-and-forget: until the supervisor has stopped the old process, the
  // health check may be answered by it, and a fast CLI can finish inside that window.
  for (let i = 0; i < 50 && (await answer(port)) !== 'v2'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await answer(port), 'v2');

  // A stale pidfile and a missing one: clear outcome, the last good release serving.
  fs.writeFileSync(pidfile, '4194305');
  w.repo.commit(webApp('v3'));
  const stale = (await w.toes(['deploy', 'sample', '--json'])).json();
  assert.equal(stale.error.code, 'UNHEALTHY');
  assert.match(stale.error.message, /no such process/);
  assert.equal(await answer(port), 'v2');
  fs.rmSync(pidfile);
  w.repo.commit(webApp('v4'));
  const missing = (await w.toes(['deploy', 'sample', '--json'])).json();
  assert.equal(missing.error.code, 'UNHEALTHY');
  assert.match(missing.error.message, /does not exist/);
  assert.equal(await answer(port), 'v2');
  assert.equal(w.liveFile('VERSION'), 'v2\n');
});

test('restart templates split into words before the placeholders are filled', () => {
  assert.deepEqual(splitWords(`pm2 reload "my app" 'x y'`), ['pm2', 'reload', 'my app', 'x y']);
  assert.deepEqual(fillTemplate('systemctl --user restart {app}', { app: 'a; rm -rf /' }), ['systemctl', '--user', 'restart', 'a; rm -rf /']);
  assert.throws(() => splitWords('echo "unclosed'), /unclosed/);
});
