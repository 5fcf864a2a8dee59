// A relay backend: the store every backend has (store.ts), and what differs between one
// process on a directory and stateless nodes on NATS. Kept out of RelayStore so that the
// interface holds only what both share, and the server wires the differences in one place.
import type { Started } from '../common/assembly.js';
import type { EventLog } from '../common/event-log.js';
import type { RoomShares } from './room.js';
import type { RelayStore, VerdictNote } from './store.js';

/** Passes each instance's verdict on a sender to the budgets of every relay process, this one included. */
export interface VerdictBus {
  tell(v: VerdictNote): void;
  hear(fn: (v: VerdictNote) => void): void;
}

export interface RelayBackend {
  store: RelayStore;
  verdicts: VerdictBus;
  /** How room.ts shares the limits between the processes writing to the store. */
  shares: RoomShares;
  /** What the start-up line says of where things are kept. */
  where: Record<string, unknown>;
  /**
   * Work the backend needs done over time, stopped with the relay: a directory's sweep of
   * webhooks past the age limit (`forget` takes one out of its link's window). None on a
   * cluster, whose streams drop old webhooks themselves.
   */
  upkeep(forget: (instance: string, id: string) => void, log: EventLog): Started<void>;
}

/** Verdicts within one process: heard as they are told. */
export function localVerdicts(): VerdictBus {
  const ears: ((v: VerdictNote) => void)[] = [];
  return { tell: (v) => ears.forEach((fn) => fn(v)), hear: (fn) => void ears.push(fn) };
}

export const noUpkeep = (): Started<void> => ({ value: undefined, undo: () => {} });
