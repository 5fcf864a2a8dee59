// The relay's storage backends, for tests that should hold for each: how `toes relay` is
// told to use one, and the store opened in this process (to look at, or to fill while the
// relay is stopped). Only the file store exists now; a NATS JetStream one joins this list.
import { test, type TestContext } from 'node:test';
import { FileRelayStore } from '../../../src/hooks/relay/file-store.js';
import type { RelayStore } from '../../../src/hooks/relay/store.js';

export interface RelayBackend {
  name: string;
  /** `toes relay` arguments that keep its state in (or under the name) `dir`. */
  args(dir: string): string[];
  /** The same store, opened here; close it before a relay process opens it. */
  open(dir: string): Promise<RelayStore>;
}

export const relayBackends: RelayBackend[] = [{ name: 'files', args: (dir) => ['--data', dir], open: (dir) => FileRelayStore.open(dir) }];

/** One test per backend (the title names the backend once there are several). */
export function relayTest(title: string, fn: (t: TestContext, backend: RelayBackend) => Promise<void>): void {
  for (const backend of relayBackends) test(relayBackends.length > 1 ? `${title} [${backend.name}]` : title, (t) => fn(t, backend));
}
