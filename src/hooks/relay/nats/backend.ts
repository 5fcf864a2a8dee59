// Stateless relay nodes on NATS: room shared out by the count of live nodes and counted a
// shard at a time, verdicts passed to every node, and no sweep (the streams' max_age).
import { noUpkeep, type RelayBackend } from '../backend.js';
import { NatsRelayStore, type NatsStoreOptions } from './store.js';

export async function openNatsBackend(o: NatsStoreOptions): Promise<RelayBackend> {
  const store = await NatsRelayStore.open(o);
  return {
    store,
    verdicts: store.verdicts,
    shares: { writers: () => store.writers(), groups: { of: (i) => store.groupOf(i), count: (g) => store.countGroup(g) } },
    where: { nats: o.servers.join(','), replicas: store.replicas },
    upkeep: noUpkeep,
  };
}
