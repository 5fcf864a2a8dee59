// Webhooks no instance collected within the age limit are dropped (and logged), so a
// server that never comes back cannot hold the relay's room forever. A directory needs
// this sweep; a NATS stream drops them itself (max_age).
import type { Started } from '../../common/assembly.js';
import type { EventLog } from '../../common/event-log.js';
import type { RelayStore } from '../store.js';

export function expirySweep(store: RelayStore, forget: (instance: string, id: string) => void, log: EventLog, maxAgeMs: number): Started<void> {
  let sweeping = false;
  const sweep = async () => {
    const cutoff = Date.now() - maxAgeMs;
    for (const instance of await store.instances()) {
      for (const w of await store.pending(instance)) {
        if (w.at >= cutoff) break; // arrival order: the rest are newer
        await store.settle(instance, w.id, 'expired');
        forget(instance, w.id);
        log('expired', { instance, id: w.id, app: w.app });
      }
    }
  };
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep()
      .catch((err) => log('error', { reason: `expiring webhooks: ${(err as Error).message}` }))
      .finally(() => (sweeping = false));
  }, Math.min(60_000, Math.max(1_000, maxAgeMs / 10)));
  return { value: undefined, undo: () => clearInterval(timer) };
}
