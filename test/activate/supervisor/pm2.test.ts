// The command adapter with a real pm2 (from npm): `pm2 reload {app}` after each swap.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { answer, freePort, webApp } from '../../fixtures/apps.js';
import { binDir, tmpDir } from '../../fixtures/cli.js';
import { makeWorld } from '../../fixtures/world.js';

test('pm2 reload {app} restarts the app onto the new release, and back on rollback', async (t) => {
  const w = await makeWorld({ files: webApp('v1') });
  const pm2Home = tmpDir('toes-rev-pm2-');
  const port = await freePort();
  const env = { PM2_HOME: pm2Home, PORT: String(port) };
  const pm2 = (...args: string[]) =>
    execFileSync(path.join(binDir, 'pm2'), args, { env: { ...process.env, ...env, PATH: `${binDir}:${process.env.PATH}` }, stdio: 'pipe', timeout: 60_000 });
  t.after(async () => {
    try {
      pm2('kill');
    } catch {}
    fs.rmSync(pm2Home, { recursive: true, force: true });
    await w.close();
  });
  for (const [k, v] of [
    ['supervisor', 'command'],
    ['restart', 'pm2 reload {app}'],
    ['health.url', `http://127.0.0.1:${port}/ok`],
    ['health.timeout', '15'],
  ]) {
    assert.equal((await w.toes(['config', 'set', 'sample', k, v])).code, 0);
  }
  // First deploy, then pm2 takes the app (its cwd is the `current` link, never resolved).
  assert.equal((await w.toes(['config', 'set', 'sample', 'supervisor', 'none'])).code, 0);
  assert.equal((await w.toes(['config', 'unset', 'sample', 'health.url'])).code, 0);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url], { env })).code, 0);
  const current = path.join(w.apps, 'sample', 'current');
  pm2('start', 'index.ts', '--name', 'sample', '--interpreter', path.join(binDir, 'bun'), '--cwd', current);
  for (let i = 0; i < 100 && (await answer(port)) !== 'v1'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await answer(port), 'v1');
  assert.equal((await w.toes(['config', 'set', 'sample', 'supervisor', 'command'])).code, 0);
  assert.equal((await w.toes(['config', 'set', 'sample', 'health.url', `http://127.0.0.1:${port}/ok`])).code, 0);

  w.repo.commit(webApp('v2'));
  const d = await w.toes(['deploy', 'sample', '--json'], { env });
  assert.equal(d.code, 0, d.stderr + d.stdout);
  for (let i = 0; i < 50 && (await answer(port)) !== 'v2'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await answer(port), 'v2');
  const rb = await w.toes(['rollback', 'sample', '--json'], { env });
  assert.equal(rb.code, 0, rb.stderr);
  for (let i = 0; i < 50 && (await answer(port)) !== 'v1'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await answer(port), 'v1');
});
