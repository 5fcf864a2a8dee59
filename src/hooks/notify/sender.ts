// Sends what the outbox holds, in the background: `toes serve` keeps one running; after a
// `toes deploy` or `toes rollback` with no daemon, a short-lived process of its own
// (notify-sender.ts) runs one until nothing is due within a minute. One sender at a time
// per DATA_DIR (a lock, recovered after a kill -9), so nothing is sent twice at once; a
// message whose send was cut short by a kill is sent again with the same webhook-id.
// Lanes keep order: one commit's statuses, one receiver's events, one after the other.
import { failpoint } from '../../failpoint.js';
import { acquireLock, type Lock } from '../../releases/lock.js';
import type { Layout } from '../../releases/paths.js';
import { receiverRequest } from './events.js';
import { forgeToken, statusRequest, type HttpRequest } from './forge-status.js';
import { list, remove, senderLock, update, type OutboxItem } from './outbox.js';
import { noteTarget, type SendOutcome } from './outcomes.js';
import { post, type Attempt } from './post.js';
import { mask, receiversOf } from './receivers.js';

/** Waits between attempts: about 24 hours in all, then the message is reported failed. */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000];

/** Past this age a failed attempt is the last. */
export const MAX_AGE_MS = 24 * 3_600_000;

/** TOES_REV_NOTIFY_RETRY_MS=ms,ms,… shortens them (tests). */
export function retryDelays(env: NodeJS.ProcessEnv = process.env): number[] {
  const raw = env.TOES_REV_NOTIFY_RETRY_MS;
  if (!raw) return RETRY_DELAYS_MS;
  const v = raw.split(',').map(Number);
  return v.every((n) => Number.isFinite(n) && n >= 0) ? v : RETRY_DELAYS_MS;
}

/** Messages sent at once, at most (a hanging receiver holds one until its timeout). */
const PARALLEL = 4;

export type SenderLog = (event: string, fields: Record<string, string | number | boolean | undefined>) => void;

export function targetLabel(item: OutboxItem, url?: string): string {
  const m = item.message;
  return m.kind === 'status' ? `${m.forge.kind} ${m.forge.repo}` : `${m.receiver} ${url ? mask(url) : ''}`.trim();
}

/** The request for an item, with the secrets it holds (to keep them out of any reason); undefined when it can no longer be sent. */
async function requestFor(layout: Layout, item: OutboxItem): Promise<{ req: HttpRequest; secrets: string[]; label: string } | { gone: string; label: string }> {
  const m = item.message;
  if (m.kind === 'status') {
    const token = await forgeToken(layout, item.app, m.forge);
    const label = targetLabel(item);
    if (!token) return { gone: `no FORGE_TOKEN for ${new URL(m.forge.api).host} any more`, label };
    return { req: statusRequest(m.forge, m.status, token), secrets: [token], label };
  }
  const r = (await receiversOf(layout, item.app)).find((x) => x.id === m.receiver);
  if (!r) return { gone: `the receiver ${m.receiver} was removed`, label: targetLabel(item) };
  const label = targetLabel(item, r.url);
  return { req: receiverRequest(r, m.event, m.body, item.id, Math.floor(Date.now() / 1000)), secrets: [r.secret], label };
}

export class Sender {
  private lock?: Lock;
  private inFlight = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private stopped = false;
  private cancel = new AbortController();
  private delays: number[];

  constructor(
    private layout: Layout,
    private log: SenderLog = () => {},
    private opts: { pollMs?: number; idleExitMs?: number } = {},
  ) {
    this.delays = retryDelays();
  }

  kick(): void {
    this.wake?.();
  }

  /** One look at the outbox: starts every due item whose lane is free; returns when the next one is due. */
  private async pass(): Promise<number> {
    const now = Date.now();
    const busy = new Set(this.inFlight.keys());
    let next = Infinity;
    for (const item of await list(this.layout)) {
      if (busy.has(item.lane)) continue;
      busy.add(item.lane);
      if (item.nextAt > now) {
        next = Math.min(next, item.nextAt);
        continue;
      }
      if (this.inFlight.size >= PARALLEL) {
        next = now;
        continue;
      }
      const p = this.attempt(item)
        .catch((err) => this.log('error', { app: item.app, id: item.id, reason: `notify: ${(err as Error).message}` }))
        .finally(() => {
          this.inFlight.delete(item.lane);
          this.kick();
        });
      this.inFlight.set(item.lane, p);
    }
    return next;
  }

  private async attempt(item: OutboxItem): Promise<void> {
    await failpoint('notify-send');
    const what = item.message.kind === 'status' ? item.message.status.state : item.message.event.type;
    const commit = item.message.kind === 'status' ? item.message.status.sha : item.message.event.data.commit;
    const r = await requestFor(this.layout, item);
    const note = (outcome: SendOutcome, reason?: string, label = r.label) =>
      noteTarget(this.layout, item.app, { target: label, outcome, at: new Date().toISOString(), id: item.id, what, ...(commit ? { commit } : {}), attempts: item.attempts, ...(reason ? { reason } : {}) }).catch(() => {});
    if ('gone' in r) {
      await remove(item);
      this.log('notify-dropped', { app: item.app, id: item.id, target: r.label, reason: r.gone });
      return note('dropped', r.gone);
    }
    item.attempts++;
    const res: Attempt = await post(r.req, r.secrets, undefined, this.cancel.signal);
    // Cut short by stop(): left as it was, for the next sender (same webhook-id).
    if (this.stopped) return;
    if (res.ok) {
      await remove(item);
      this.log('notify-sent', { app: item.app, id: item.id, target: r.label, what, status: res.status });
      return note('sent');
    }
    // The last attempt by count, or by age: a message a stopped daemon kept for days is not retried for another day.
    const last = item.attempts > this.delays.length || Date.now() - item.createdAt > MAX_AGE_MS;
    if (!res.retry || last) {
      await remove(item);
      const reason = last && res.retry ? `${res.reason}; gave up after ${item.attempts} attempts` : res.reason;
      this.log('notify-failed', { app: item.app, id: item.id, target: r.label, what, reason });
      return note('failed', reason);
    }
    item.nextAt = Date.now() + this.delays[item.attempts - 1];
    item.lastError = res.reason;
    await update(item);
    this.log('notify-retrying', { app: item.app, id: item.id, target: r.label, what, reason: res.reason, attempts: item.attempts });
    return note('retrying', res.reason);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        this.wake = undefined;
        resolve();
      };
      this.timer = setTimeout(() => this.wake?.(), Math.max(0, ms));
    });
  }

  private async tryLock(): Promise<boolean> {
    if (this.lock) return true;
    try {
      this.lock = await acquireLock(senderLock(this.layout), { command: 'notify sender', waitMs: 0 });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * `toes serve`'s sender: runs until stop(). While another sender holds the lock (one a
   * command left behind), it looks again every pollMs.
   */
  async run(): Promise<void> {
    const poll = this.opts.pollMs ?? 2_000;
    while (!this.stopped) {
      const next = (await this.tryLock()) ? await this.pass() : Infinity;
      if (this.stopped) break;
      await this.sleep(Math.min(poll, next - Date.now()));
    }
  }

  /**
   * A command's sender: runs while something is due within idleExitMs, then lets go. The
   * outbox is looked at again after the lock is let go: a command that wrote to it while
   * this one held the lock found the lock taken and left its messages to this one.
   */
  async runUntilIdle(): Promise<void> {
    const idle = this.opts.idleExitMs ?? 60_000;
    for (;;) {
      if (!(await this.tryLock())) return;
      for (;;) {
        const next = await this.pass();
        if (!this.inFlight.size && next - Date.now() > idle) break;
        await this.sleep(Math.min(idle, next - Date.now()));
      }
      await this.lock!.release();
      this.lock = undefined;
      const due = (await list(this.layout)).some((i) => i.nextAt - Date.now() <= idle);
      if (!due) return;
    }
  }

  /** Sends cut short here are sent again, with the same webhook-id, by the next sender. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel.abort();
    this.kick();
    await this.lock?.release();
    this.lock = undefined;
  }
}
