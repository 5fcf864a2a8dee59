// The per-app deploy queue of `toes serve`. A webhook is answered only after its event is
// in the journal; duplicates (same delivery id) are dropped; while an app's deploy runs,
// newer events coalesce into one pending deploy, which always fetches the ref's tip.
// After a crash, reopening the journal gives back every event not yet taken by a deploy.
import { Journal } from '../common/journal.js';
import type { WebhookFormat } from './verify.js';

export interface HookEvent {
  app: string;
  /** The delivery id from the host (or the relay); the key for dropping duplicates. */
  id: string;
  ref?: string;
  /** The commit the push names and the repository's web address (repository.html_url), for
   * the commit status on the forge: both only as the sender said them. */
  commit?: string;
  repo?: string;
  /** How it arrived: a signed webhook's format, or 'page' for the settings page's Deploy Now. */
  format?: WebhookFormat | 'page';
  receivedAt: string;
}

type QueueRecord =
  | { kind: 'event'; seq: number; event: HookEvent }
  | { kind: 'taken'; app: string; upTo: number }
  /** A delivery id remembered for dropping duplicates, written by compaction. */
  | { kind: 'seen'; app: string; id: string; seq: number };

export interface Offer {
  result: 'queued' | 'duplicate';
  /** The pending event this one replaced: its deploy will now happen as part of this one. */
  superseded?: HookEvent;
}

export interface QueueLimits {
  /** Delivery ids remembered for dropping duplicates (the oldest are forgotten first). */
  rememberIds: number;
  /** Appends after which the journal is rewritten down to what is still needed. */
  compactEvery: number;
}

const DEFAULT_LIMITS: QueueLimits = { rememberIds: 10_000, compactEvery: 5_000 };

type Entry = { seq: number; event: HookEvent };

export class DeployQueue {
  private seq = 0;
  /** Sequence numbers of recent deliveries by app + id, oldest first (a Map keeps
   * insertion order). Only the key is kept: a burst must not fill memory with events. */
  private recent = new Map<string, number>();
  /** Newest pending event per app (older ones are covered by it). */
  private pending = new Map<string, Entry>();
  private taken = new Map<string, number>();
  /** Events taken by a running deploy and not yet done: a compaction must keep them. */
  private running = new Map<number, Entry>();
  private appended = 0;
  private compacting?: Promise<void>;

  private constructor(
    private journal: Journal<QueueRecord>,
    private limits: QueueLimits,
  ) {}

  static async open(file: string, limits: Partial<QueueLimits> = {}): Promise<DeployQueue> {
    const { journal, records } = await Journal.open<QueueRecord>(file);
    const q = new DeployQueue(journal, { ...DEFAULT_LIMITS, ...limits });
    for (const r of records) if (r.kind === 'taken') q.taken.set(r.app, Math.max(q.taken.get(r.app) ?? 0, r.upTo));
    for (const r of records) {
      if (r.kind === 'seen') q.remember(r.app, r.id, r.seq);
      if (r.kind !== 'event') continue;
      q.seq = Math.max(q.seq, r.seq);
      q.remember(r.event.app, r.event.id, r.seq);
      if (r.seq > (q.taken.get(r.event.app) ?? 0) && (q.pending.get(r.event.app)?.seq ?? 0) < r.seq) q.pending.set(r.event.app, { seq: r.seq, event: r.event });
    }
    // Start each run from a journal holding only what is still needed.
    // (On a full disk this waits for a later run: the journal as it is stays valid.)
    if (records.length > q.recent.size + q.taken.size + q.pending.size) await q.compact().catch(() => {});
    return q;
  }

  private remember(app: string, id: string, seq: number): void {
    const key = `${app}\0${id}`;
    this.seq = Math.max(this.seq, seq);
    this.recent.delete(key);
    this.recent.set(key, seq);
    while (this.recent.size > this.limits.rememberIds) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Resolves once the event is durable (or known to be a duplicate). */
  async offer(event: HookEvent): Promise<Offer> {
    const key = `${event.app}\0${event.id}`;
    if (this.recent.has(key)) return { result: 'duplicate' };
    const entry = { seq: ++this.seq, event };
    this.remember(event.app, event.id, entry.seq);
    try {
      await this.journal.append({ kind: 'event', seq: entry.seq, event });
    } catch (err) {
      this.recent.delete(key);
      throw err;
    }
    this.counted();
    const cur = this.pending.get(event.app);
    if (cur && cur.seq > entry.seq) return { result: 'queued', superseded: event };
    this.pending.set(event.app, entry);
    return { result: 'queued', superseded: cur?.event };
  }

  /** Apps with a deploy waiting. */
  apps(): string[] {
    return [...this.pending.keys()];
  }

  /** The event waiting for the app's next deploy, if any. */
  peek(app: string): HookEvent | undefined {
    return this.pending.get(app)?.event;
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
    this.running.set(p.seq, p);
    return {
      event: p.event,
      done: async () => {
        this.running.delete(p.seq);
        this.taken.set(app, Math.max(this.taken.get(app) ?? 0, p.seq));
        await this.journal.append({ kind: 'taken', app, upTo: p.seq });
        this.counted();
      },
    };
  }

  private counted(): void {
    if (++this.appended >= this.limits.compactEvery && !this.compacting) {
      this.compacting = this.compact()
        .catch(() => {}) // tried again after the next batch of appends
        .finally(() => (this.compacting = undefined));
    }
  }

  /**
   * Rewrites the journal down to the remembered deliveries, the pending events and each
   * app's consumed mark. The snapshot is taken when the journal is idle; appends queued
   * meanwhile land after it, and replaying a record twice changes nothing.
   */
  private async compact(): Promise<void> {
    this.appended = 0;
    await this.journal.rewrite(() => {
      const out: QueueRecord[] = [...this.taken].map(([app, upTo]) => ({ kind: 'taken', app, upTo }));
      for (const [key, seq] of this.recent) {
        const [app, id] = key.split('\0');
        out.push({ kind: 'seen', app, id, seq });
      }
      // Taken but not done (a deploy running now) comes back after a crash, so it stays.
      for (const e of [...this.running.values(), ...this.pending.values()].sort((a, b) => a.seq - b.seq)) out.push({ kind: 'event', seq: e.seq, event: e.event });
      return out;
    });
  }

  async close(): Promise<void> {
    await this.compacting;
    await this.journal.close();
  }
}
