// Runs queued deploys: one at a time per app, a few apps at once. When an app's deploy
// ends, the next pending event for it (the newest of everything that arrived meanwhile)
// starts another. Events are marked consumed only after their deploy ended; a deploy
// abandoned by a shutdown stays queued and runs after the restart.
import { lostResult, type OpResult } from '../../activate/result.js';
import type { EventLog } from '../common/event-log.js';
import { endedDelivery, outcomeOf, type DeliveryLog } from './deliveries.js';
import type { DeployQueue, HookEvent } from './queue.js';

export interface RunHandle {
  /** The deploy's result, or a lostResult when it never reported one. */
  result: Promise<OpResult>;
  /** Asks the deploy to stop: it abandons a build, but finishes an activation it began. */
  stop(): void;
}

export type DeployRunner = (app: string, event: HookEvent) => RunHandle;

/** Told when a deploy starts and ends (commit statuses, events); `ended` is on disk when it resolves. No event: the page's rollback. */
export interface DeployNotices {
  started(app: string, event: HookEvent): void;
  ended(app: string, event: HookEvent | undefined, r: OpResult): Promise<void>;
}

/** The longest new deploys wait for a backlog to finish arriving. */
export const HOLD_MAX_MS = 5_000;

export class Scheduler {
  private running = new Map<string, { handle: RunHandle; done: Promise<void> }>();
  private waiting: string[] = [];
  private stopping = false;
  private held?: NodeJS.Timeout;

  constructor(
    private queue: Pick<DeployQueue, 'take' | 'peek'>,
    private runner: DeployRunner,
    private log: EventLog,
    private deliveries: DeliveryLog,
    private jobs = 2,
    private notices?: DeployNotices,
  ) {}

  kick(app: string): void {
    if (this.stopping || this.running.has(app) || this.waiting.includes(app)) return;
    if (this.held || this.running.size >= this.jobs) this.waiting.push(app);
    else this.start(app);
  }

  /**
   * `waiting` webhooks are still on their way (the relay's backlog after the instance was
   * offline): new deploys wait until they are in, at most HOLD_MAX_MS, so each app deploys
   * its newest commit once instead of once for each part of the backlog that came in time.
   */
  backlog(waiting: number): void {
    if (waiting > 0) {
      this.held ??= setTimeout(() => this.backlog(0), HOLD_MAX_MS).unref();
      return;
    }
    if (!this.held) return;
    clearTimeout(this.held);
    this.held = undefined;
    this.next();
  }

  /** Apps whose deploy is running now. */
  active(): string[] {
    return [...this.running.keys()];
  }

  private start(app: string): void {
    const taken = this.queue.take(app);
    if (!taken) return this.next();
    const { event } = taken;
    this.log('deploying', { app, id: event.id });
    this.deliveries.add(app, { id: event.id, at: event.receivedAt, outcome: 'deploying' });
    this.notices?.started(app, event);
    const handle = this.runner(app, event);
    const done = handle.result
      .catch((err) => lostResult('deploy', app, 'INTERNAL', String((err as Error)?.message ?? err)))
      .then(async (r) => {
        const outcome = outcomeOf(r);
        if (outcome !== 'abandoned') {
          // Before the event is consumed: a crash in between sends the outcome again rather than never.
          await this.notices?.ended(app, event, r);
          // A failed deploy is consumed too: retrying it on every restart would not fix it.
          await taken.done().catch((err) => this.log('error', { app, reason: `could not mark the event consumed: ${(err as Error).message}` }));
        }
        this.log(outcome, { app, id: event.id, release: r.release, version: r.version, code: r.error?.code, ms: r.durationMs, reason: r.error?.message });
        this.deliveries.add(app, endedDelivery(event, r));
      })
      .finally(() => {
        this.running.delete(app);
        if (this.stopping) return;
        if (this.queue.peek(app)) this.waiting.unshift(app);
        this.next();
      });
    this.running.set(app, { handle, done });
  }

  private next(): void {
    while (!this.stopping && !this.held && this.running.size < this.jobs && this.waiting.length) this.start(this.waiting.shift()!);
  }

  /** Stops starting deploys, asks running ones to stop, and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.held);
    this.waiting = [];
    const all = [...this.running.values()];
    for (const r of all) r.handle.stop();
    await Promise.all(all.map((r) => r.done));
  }
}
