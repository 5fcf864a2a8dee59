// One relay process on a directory: every count is local, every verdict heard here, and
// webhooks past the age limit swept on a timer.
import { localVerdicts, type RelayBackend } from '../backend.js';
import { expirySweep } from './expiry.js';
import { FileRelayStore } from './store.js';

export async function openFileBackend(dir: string, maxAgeMs: number): Promise<RelayBackend> {
  const store = await FileRelayStore.open(dir);
  return {
    store,
    verdicts: localVerdicts(),
    // A directory has one relay process (its journals are not shared).
    shares: { writers: () => 1 },
    where: { data: dir },
    upkeep: (forget, log) => expirySweep(store, forget, log, maxAgeMs),
  };
}
