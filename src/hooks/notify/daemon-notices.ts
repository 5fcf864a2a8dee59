// `toes serve`'s side of statuses and events: its sender, and what the scheduler, the
// delivery log and the page's rollbacks tell it. A notice that cannot be recorded is
// logged and never fails or delays a deploy beyond its own write.
import type { OpResult } from '../../activate/result.js';
import type { Layout } from '../../releases/paths.js';
import type { EventLog } from '../common/event-log.js';
import type { HookEvent } from '../serve/queue.js';
import { triggerOf } from '../serve/worker-request.js';
import { refusedEvent } from './events.js';
import { put } from './outbox.js';
import { eventItems, noteOutcome, noteStarted, type Hint } from './record.js';
import { Sender } from './sender.js';

/** At most one delivery.refused event per app in this long: anyone may post junk to a webhook URL. */
export const REFUSED_EVERY_MS = 10 * 60_000;

const hintOf = (e: HookEvent): Hint => ({ format: e.format, repo: e.repo, commit: e.commit });

export class DaemonNotices {
  readonly sender: Sender;
  private starting = new Map<string, Promise<unknown>>();
  private refusedAt = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private layout: Layout,
    private log: EventLog,
  ) {
    this.sender = new Sender(layout, (event, fields) => log(event, fields));
  }

  private failed(app: string, err: unknown): void {
    this.log('error', { app, reason: `statuses and events not recorded: ${(err as Error).message}` });
  }

  started(app: string, event: HookEvent): void {
    const p = noteStarted(this.layout, app, { trigger: triggerOf(event), hint: hintOf(event) })
      .then(() => this.sender.kick())
      .catch((err) => this.failed(app, err));
    this.starting.set(app, p);
  }

  /** On disk when this resolves; the scheduler marks the event consumed only after. */
  async ended(app: string, event: HookEvent | undefined, r: OpResult): Promise<void> {
    await this.starting.get(app);
    this.starting.delete(app);
    try {
      await noteOutcome(this.layout, r, { trigger: event ? triggerOf(event) : 'page', hint: event ? hintOf(event) : undefined });
      this.sender.kick();
    } catch (err) {
      this.failed(app, err);
    }
  }

  /** A refused delivery: one event now and then, counting those left out meanwhile. */
  refused(app: string, d: { reason?: string; status?: number }): void {
    const now = Date.now();
    const last = this.refusedAt.get(app);
    if (last && now - last.at < REFUSED_EVERY_MS) {
      last.suppressed++;
      return;
    }
    this.refusedAt.set(app, { at: now, suppressed: 0 });
    void (async () => {
      const items = await eventItems(this.layout, app, [refusedEvent(app, d.reason ?? 'refused', d.status, last?.suppressed ?? 0, new Date(now))]);
      await put(this.layout, items);
      if (items.length) this.sender.kick();
    })().catch((err) => this.failed(app, err));
  }
}
