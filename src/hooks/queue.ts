// The per-app deploy queue of `toes serve` (issue 4 groundwork). A webhook is answered only
// after its event is in the journal; duplicates (same delivery id) are dropped; while an
// app's deploy runs, newer events coalesce into one pending deploy, which always fetches
// the ref's tip. After a crash, reopening the journal gives back every event not yet
// taken by a deploy.
import { Journal } from './journal.js';

export interface HookEvent {
  app: string;
  /** The delivery id from the host (or the relay); the key for dropping duplicates. */
  id: string;
  ref?: string;
  receivedAt: string;
}

type Record_ = { kind: 'event'; seq: number; event: HookEvent } | { kind: 'taken'; app: string; upTo: number };

export type Offer = 'queued' | 'duplicate';

export class DeployQueue {
  private seq = 0;
  private seen = new Set<string>();
  /** Newest pending event per app (older ones are covered by it), with its sequence. */
  private pending = new Map<string, { seq: number; event: HookEvent }>();

  private constructor(private journal: Journal<Record_>) {}

  static async open(file: string): Promise<DeployQueue> {
    const { journal, records } = await Journal.open<Record_>(file);
    const q = new DeployQueue(journal);
    const taken = new Map<string, number>();
    for (const r of records) if (r.kind === 'taken') taken.set(r.app, Math.max(taken.get(r.app) ?? 0, r.upTo));
    for (const r of records) {
      if (r.kind !== 'event') continue;
      q.seq = Math.max(q.seq, r.seq);
      q.seen.add(`${r.event.app}\0${r.event.id}`);
      if (r.seq > (taken.get(r.event.app) ?? 0)) q.pending.set(r.event.app, { seq: r.seq, event: r.event });
    }
    return q;
  }

  /** Resolves once the event is durable (or known to be a duplicate). */
  async offer(event: HookEvent): Promise<Offer> {
    const key = `${event.app}\0${event.id}`;
    if (this.seen.has(key)) return 'duplicate';
    this.seen.add(key);
    const seq = ++this.seq;
    try {
      await this.journal.append({ kind: 'event', seq, event });
    } catch (err) {
      this.seen.delete(key);
      throw err;
    }
    const cur = this.pending.get(event.app);
    if (!cur || cur.seq < seq) this.pending.set(event.app, { seq, event });
    return 'queued';
  }

  /** Apps with a deploy waiting. */
  apps(): string[] {
    return [...this.pending.keys()];
  }

  /**
   * Takes the app's pending deploy (the newest event stands for all before it). The caller
   * deploys, then calls `done`, which records that those events are consumed; if the
   * process dies first, the events are offered again after a restart.
   */
  take(app: string): { event: HookEvent; done: () => Promise<void> } | undefined {
    const p = this.pending.get(app);
    if (!p) return undefined;
    this.pending.delete(app);
    return { event: p.event, done: () => this.journal.append({ kind: 'taken', app, upTo: p.seq }) };
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
