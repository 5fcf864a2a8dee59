// Instances' verdicts on senders, passed to every node's budgets (senders.ts). A node's own
// verdicts count at once; the others' arrive in batches, one note per node every
// BATCH_MS at most, not one per webhook: a note per ack cost every node a message in and a
// JSON parse for every webhook the cluster took (measured with 10,000 instances: NATS took
// 16.9 messages per webhook with a note per ack, 12.8 with batches). Another node's budget
// that learns of a verdict 100 ms late gives back a token, or refuses a bad sender, 100 ms
// later.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { VerdictBus } from '../backend.js';
import type { VerdictNote } from '../store.js';
import { listenJson } from './listen.js';

const BATCH_MS = 100;
/** A note stays well under NATS's 1 MB payload limit. */
const MAX_BATCH = 500;

type Entry = [instance: string, src: string, accepted: boolean];

export class VerdictNotes implements VerdictBus {
  private ears: ((v: VerdictNote) => void)[] = [];
  private queue: Entry[] = [];
  private timer?: NodeJS.Timeout;
  private sub?: Subscription;

  constructor(
    private nc: NatsConnection,
    private subject: string,
    private node: string,
  ) {}

  // Fields, not methods: the hub and the server take them on their own.
  readonly tell = (v: VerdictNote): void => {
    for (const fn of this.ears) fn(v);
    this.queue.push([v.instance, v.src, v.accepted]);
    if (this.queue.length >= MAX_BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  };

  readonly hear = (fn: (v: VerdictNote) => void): void => {
    this.ears.push(fn);
    // `{i, s, ok}` is one verdict from a node of the version before batches (a rolling upgrade).
    this.sub ??= listenJson<{ n?: unknown; v?: unknown; i?: unknown; s?: unknown; ok?: unknown }>(this.nc, this.subject, (note) => {
      if (note.n === this.node) return;
      const entries = Array.isArray(note.v) ? note.v : [[note.i, note.s, note.ok]];
      for (const e of entries) {
        if (!Array.isArray(e)) continue;
        const [i, s, ok] = e as unknown[];
        if (typeof i !== 'string' || typeof s !== 'string' || typeof ok !== 'boolean') continue;
        for (const ear of this.ears) ear({ instance: i, src: s, accepted: ok });
      }
    });
  };

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const v = this.queue.splice(0);
    try {
      this.nc.publish(this.subject, JSON.stringify({ n: this.node, v }));
    } catch {
      // The connection is closing: the other nodes' budgets go without these.
    }
  }

  /** Sends what is queued, and hears no more. */
  stop(): void {
    this.flush();
    this.sub?.unsubscribe();
  }
}
