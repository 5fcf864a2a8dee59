// The relay's storage backends, for tests that should hold for each: how `toes relay` is
// told to use one, and the store opened in this process (to look at, or to fill while the
// relay is stopped). The NATS backend runs on a 3-node JetStream cluster of Debian's
// nats-server, started once per test file; each test gets its own stream and buckets.
import { createHash } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FileRelayStore } from '../../../src/hooks/relay/file/store.js';
import { NatsRelayStore } from '../../../src/hooks/relay/nats/store.js';
import type { RelayStore } from '../../../src/hooks/relay/store.js';
import { startNatsCluster, type NatsCluster } from '../../fixtures/nats-cluster.js';

export interface RelayBackend {
  name: string;
  /** What `toes relay` needs to keep its state in (or under the name) `dir`: arguments and environment. */
  relay(dir: string): Promise<{ store: string[]; env: Record<string, string> }>;
  /** The same store, opened here; close it before a relay process opens it. */
  open(dir: string): Promise<RelayStore>;
}

let shared: Promise<NatsCluster> | undefined;
/** One cluster for the whole test file, killed when its process exits. */
export const sharedNats = () => (shared ??= startNatsCluster(3, { background: true }));

/** A NATS client of the test's own on the shared cluster, closed after the test. */
export async function natsClient(t: TestContext): Promise<NatsConnection> {
  const c = await sharedNats();
  const nc = await connect({ servers: c.urls.split(','), user: c.env.TOES_RELAY_NATS_USER, pass: c.env.TOES_RELAY_NATS_PASSWORD });
  t.after(() => nc.close());
  return nc;
}

/** A stream and buckets of its own for each test directory. */
const prefixOf = (dir: string) => `t${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;

export const relayBackends: RelayBackend[] = [
  { name: 'files', relay: async (dir) => ({ store: ['--data', dir], env: {} }), open: (dir) => FileRelayStore.open(dir) },
  {
    name: 'nats',
    async relay(dir) {
      const c = await sharedNats();
      return { store: ['--nats', c.urls, '--nats-prefix', prefixOf(dir)], env: c.env };
    },
    async open(dir) {
      const c = await sharedNats();
      return NatsRelayStore.open({ servers: c.urls.split(','), prefix: prefixOf(dir), env: c.env, node: 'test', maxAgeMs: 7 * 24 * 3600_000, log: () => {} });
    },
  },
];

/** One test per backend (the title names the backend once there are several). */
export function relayTest(title: string, fn: (t: TestContext, backend: RelayBackend) => Promise<void>): void {
  for (const backend of relayBackends) test(relayBackends.length > 1 ? `${title} [${backend.name}]` : title, (t) => fn(t, backend));
}
