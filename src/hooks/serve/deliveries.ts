// The last webhook deliveries of each app and what became of them, for `toes webhook
// status` and the settings page. Informational, so not synced: lines are buffered and
// written a few times a second, and each app's file is cut back to its newest lines.
import fs from 'node:fs/promises';
import type { OpResult } from '../../activate/result.js';
import { writeFileDurable } from '../../releases/durable.js';
import type { Layout } from '../../releases/paths.js';

/** What became of a deploy, in one word. */
export type DeployOutcome = 'deployed' | 'unchanged' | 'failed' | 'abandoned';

export type Outcome = 'refused' | 'duplicate' | 'ignored' | 'ping' | 'queued' | 'superseded' | 'deploying' | DeployOutcome;

/** A deploy's result as the delivery log keeps it: whole but for the per-stage timings and
 * the error's log tail, which the deploy log holds (each line stays small). */
export type StoredResult = Omit<OpResult, 'stages'>;

export interface Delivery {
  id: string;
  at: string;
  outcome: Outcome;
  format?: string;
  event?: string;
  /** The HTTP status the delivery was answered with. */
  status?: number;
  reason?: string;
  release?: string;
  version?: string;
  /** The deploy's result, once it ended. */
  result?: StoredResult;
}

/** The one place a result becomes its outcome word (the log's event name, the delivery's outcome). */
export function outcomeOf(r: OpResult): DeployOutcome {
  if (r.ok) return r.unchanged ? 'unchanged' : 'deployed';
  return r.error?.code === 'INTERRUPTED' ? 'abandoned' : 'failed';
}

/** The delivery log's line for a deploy that ended. */
export function endedDelivery(event: { id: string; receivedAt: string }, r: OpResult): Delivery {
  const { stages: _stages, ...rest } = r;
  const result: StoredResult = rest.error ? { ...rest, error: { code: rest.error.code, message: rest.error.message } } : rest;
  return { id: event.id, at: event.receivedAt, outcome: outcomeOf(r), release: r.release, version: r.version, reason: r.error?.message, result };
}

const MAX_BYTES = 128 * 1024;
const KEEP_LINES = 300;

export class DeliveryLog {
  private buffered = new Map<string, string[]>();
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private layout: Layout,
    private delayMs = 200,
  ) {}

  /** Records a delivery, or a later outcome of one (same id). */
  add(app: string, d: Delivery): void {
    const lines = this.buffered.get(app) ?? [];
    lines.push(JSON.stringify(d) + '\n');
    this.buffered.set(app, lines);
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffered;
    this.buffered = new Map();
    this.writing = this.writing.then(async () => {
      for (const [app, lines] of batch) {
        try {
          await writeLines(this.layout.deliveriesFile(app), lines.join(''));
        } catch {
          // a full disk must not stop webhooks from being answered; the queue is what counts
        }
      }
    });
    return this.writing;
  }
}

async function writeLines(file: string, text: string): Promise<void> {
  await fs.appendFile(file, text, { mode: 0o600 });
  const { size } = await fs.stat(file);
  if (size <= MAX_BYTES) return;
  const kept = (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean).slice(-KEEP_LINES);
  await writeFileDurable(file, kept.join('\n') + '\n', { mode: 0o600 });
}

/** The app's last deliveries, newest first, each with its latest outcome. */
export async function readDeliveries(layout: Layout, app: string, limit = 10): Promise<Delivery[]> {
  let text = '';
  try {
    text = await fs.readFile(layout.deliveriesFile(app), 'utf8');
  } catch {
    return [];
  }
  const byId = new Map<string, Delivery>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const d = JSON.parse(line) as Delivery;
      if (typeof d.id !== 'string') continue;
      const prev = byId.get(d.id);
      // A later line carries a later outcome; the first keeps when the delivery arrived.
      byId.set(d.id, prev ? { ...prev, ...d, at: prev.at, status: prev.status ?? d.status } : d);
    } catch {}
  }
  return [...byId.values()].slice(-limit).reverse();
}
