// A world, a relay on its own store, and cleanup of every process started through `track`,
// for the tests of `toes serve` linked to a relay (link.test.ts, senders.test.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { TestContext } from 'node:test';
import { tmpDir } from '../../../fixtures/cli.js';
import { ensureStopped, startRelay, type Daemon } from '../../../fixtures/hooks.js';
import { makeWorld } from '../../../fixtures/world.js';
import { relayBackends, type RelayBackend } from '../../relay/backends.js';

/**
 * `startRelayAgain` starts the relay over the same store (after a stop or a kill). The store
 * is the first backend unless a test runs with each (every backend is tested alone in
 * test/hooks/relay).
 */
export async function relaySetup(t: TestContext, relayArgs: string[] = [], backend: RelayBackend = relayBackends[0]) {
  const w = await makeWorld();
  t.after(() => w.close());
  const relayDir = tmpDir('toes-relay-');
  // Every process stopped before the relay's directory goes: after-hooks run in the order
  // they were added, and one that throws (a relay still writing there) skips the rest.
  const started: Daemon[] = [];
  t.after(async () => {
    for (const d of started) await ensureStopped(d);
    fs.rmSync(relayDir, { recursive: true, force: true });
  });
  const track = (d: Daemon) => (started.push(d), d);
  const startRelayAgain = async (opts: { port?: number; args?: string[] } = {}) => track(await startRelay(relayDir, { ...(await backend.relay(relayDir)), ...opts }));
  const relay = await startRelayAgain({ args: relayArgs });
  return { w, relayDir, relay, track, startRelayAgain };
}

/** The same, with the sample app deployed and its webhook enabled through the relay. */
export async function relayWorld(t: TestContext, relayArgs: string[] = [], backend: RelayBackend = relayBackends[0]) {
  const setup = await relaySetup(t, relayArgs, backend);
  const { w, relay } = setup;
  const env = { REV_RELAY_URL: relay.url };
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url, '--no-install'])).code, 0);
  const hook = (await w.toes(['webhook', 'enable', 'sample', '--json'], { env })).json();
  return { ...setup, env, hook };
}
