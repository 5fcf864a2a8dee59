// The last webhook deliveries of each app and what became of them, for `toes webhook
// status` and the settings page. Informational, so not synced: lines are buffered and
// written a few times a second, and each app's file is cut back to its newest lines.
// Refused deliveries (junk, mostly: anyone may post to a webhook URL) have a small share
// of their own, in the file and on show, so a flood of them never hides the real ones.
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
/** Lines kept when the file is cut back: of deliveries that were let in, and of refused ones. */
const KEEP_LINES = 300;
const KEEP_REFUSED = 30;
/** Refused deliveries shown at most among the last ones. */
const SHOW_REFUSED = 3;

const isRefused = (line: string) => line.includes('"outcome":"refused"');

export class DeliveryLog {
  private buffered = new Map<string, string[]>();
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  /** Told of each refused delivery (the delivery.refused event). */
  onRefused?: (app: string, d: Delivery) => void;

  constructor(
    private layout: Layout,
    private delayMs = 200,
  ) {}

  /** Records a delivery, or a later outcome of one (same id). */
  add(app: string, d: Delivery): void {
    if (d.outcome === 'refused') this.onRefused?.(app, d);
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
  const lines = (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean);
  let refused = KEEP_REFUSED;
  let others = KEEP_LINES;
  const kept: string[] = [];
  for (let i = lines.length - 1; i >= 0 && (refused > 0 || others > 0); i--) {
    if (isRefused(lines[i]) ? refused-- > 0 : others-- > 0) kept.push(lines[i]);
  }
  await writeFileDurable(file, kept.reverse().join('\n') + '\n', { mode: 0o600 });
}

/** Every delivery line of the app's file, in order of arrival. */
async function readLines(layout: Layout, app: string): Promise<Delivery[]> {
  let text = '';
  try {
    text = await fs.readFile(layout.deliveriesFile(app), 'utf8');
  } catch {
    return [];
  }
  const out: Delivery[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const d = JSON.parse(line) as Delivery;
      if (typeof d.id === 'string') out.push(d);
    } catch {}
  }
  return out;
}

/** The app's last deliveries, newest first, each with its latest outcome; a few refused ones among them at most. */
export async function readDeliveries(layout: Layout, app: string, limit = 10): Promise<Delivery[]> {
  // In order of arrival. A refused delivery stands alone: its id is the sender's word,
  // which must not change what is shown for a real delivery with that id.
  const byId = new Map<string | symbol, Delivery>();
  for (const d of await readLines(layout, app)) {
    if (d.outcome === 'refused') {
      byId.set(Symbol(), d);
      continue;
    }
    const prev = byId.get(d.id);
    // A later line carries a later outcome; the first keeps when the delivery arrived.
    byId.set(d.id, prev ? { ...prev, ...d, at: prev.at, status: prev.status ?? d.status } : d);
  }
  const newestFirst = [...byId.values()].reverse();
  let shown = 0;
  return newestFirst.filter((d) => d.outcome !== 'refused' || shown++ < SHOW_REFUSED).slice(0, limit);
}

/** Refused deliveries since `sinceMs` whose status is one of `statuses`, oldest first (the file keeps the last 30 or so). */
export async function refusedSince(layout: Layout, app: string, sinceMs: number, statuses: number[]): Promise<Delivery[]> {
  return (await readLines(layout, app)).filter((d) => d.outcome === 'refused' && statuses.includes(d.status ?? 0) && Date.parse(d.at) >= sinceMs);
}
