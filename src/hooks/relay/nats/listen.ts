// A subscription to JSON notes between relay nodes; a note that does not parse is ignored
// (another version of toes, or noise on a shared server), never fatal.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export function listenJson<T>(nc: NatsConnection, subject: string, fn: (note: T) => void): Subscription {
  return nc.subscribe(subject, {
    callback: (err, m) => {
      if (err) return;
      let note: T;
      try {
        note = m.json<T>();
      } catch {
        return;
      }
      fn(note);
    },
  });
}
