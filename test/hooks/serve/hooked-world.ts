// A world whose sample app is deployed (without `bun install`, also for its next deploys)
// and takes webhooks, for daemon tests that care about what happens after a delivery.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { makeWorld, type World } from '../../fixtures/world.js';

/** `before` runs on the world before its first deploy, which takes `ref` when given. */
export async function hookedWorld(t: TestContext, opts: { data?: string; ref?: string; before?: (w: World) => void } = {}): Promise<{ w: World; secret: string }> {
  const w = await makeWorld(opts);
  t.after(() => w.close());
  opts.before?.(w);
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', ...(opts.ref ? ['--ref', opts.ref] : [])])).code, 0);
  assert.equal((await w.toes(['config', 'set', 'sample', 'install', 'false'])).code, 0);
  const en = await w.toes(['webhook', 'enable', 'sample', '--json']);
  assert.equal(en.code, 0, en.stderr);
  return { w, secret: en.json().secret };
}
