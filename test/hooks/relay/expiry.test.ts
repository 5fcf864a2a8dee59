// Webhooks no instance collects within --max-age are dropped: by the directory's sweep
// (logged one by one), or by the cluster's stream itself. Either way the room they held is
// free again and a link made afterwards gets nothing of them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpDir } from '../../fixtures/cli.js';
import { ensureStopped, post, standard, startRelay, type Daemon } from '../../fixtures/hooks.js';
import { relayTest } from './backends.js';

const waiting = async (url: string): Promise<number> => ((await (await fetch(`${url}/health`)).json()) as { pending: number }).pending;

relayTest('webhooks older than --max-age are dropped and their room given back', async (t, backend) => {
  const dir = tmpDir('toes-relay-');
  let r: Daemon | undefined;
  t.after(() => ensureStopped(r));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  r = await startRelay(dir, { ...(await backend.relay(dir)), args: ['--max-age', '2', '--max-pending', '5'] });
  const id = 'expiring01';
  const secretHash = createHash('sha256').update('s'.repeat(32)).digest('hex');
  const reg = await fetch(`${r.url}/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, secretHash }) });
  assert.equal(reg.status, 201);
  const hook = () => standard('whsec_' + Buffer.alloc(24, 3).toString('base64'), { type: 'save', ref: 'refs/heads/main' });
  for (let i = 0; i < 5; i++) assert.equal((await post(r.url, `/hooks/${id}/app`, hook())).status, 202);
  assert.equal(await waiting(r.url), 5);

  const deadline = Date.now() + 30_000;
  while ((await waiting(r.url)) > 0) {
    assert.ok(Date.now() < deadline, `still ${await waiting(r.url)} waiting 30 s after they were 2 s old`);
    await new Promise((res) => setTimeout(res, 250));
  }
  if (backend.name === 'files') assert.equal(r.events().filter((e) => e.event === 'expired' && e.instance === id).length, 5);
  // Room for five new ones without dropping any: the expired ones hold none.
  for (let i = 0; i < 5; i++) assert.equal((await post(r.url, `/hooks/${id}/app`, hook())).status, 202);
  assert.equal(r.events().filter((e) => e.event === 'dropped').length, 0);
  assert.equal(await waiting(r.url), 5);
  assert.equal((await r.stop()).code, 0);
});
