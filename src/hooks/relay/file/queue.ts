// One instance's webhooks on the relay's disk (queues/<instance>.jsonl): each delivery,
// then its ack or expiry, append-only. A delivery is on disk (fdatasync, group commit)
// before `add` resolves. Only an index (id, place in the file, size, time) stays in memory;
// bodies are read back when sent, so 10,000 waiting deliveries cost little memory. The file
// is rewritten down to its waiting deliveries once settled ones outnumber them, copying
// them a piece at a time.
import { Journal, type Pos } from '../../common/journal.js';
import type { NewDelivery, StoredDelivery } from '../store.js';

type QueueRecord = ({ k: 'd' } & StoredDelivery) | { k: 'a'; id: string } | { k: 'x'; id: string };

interface Waiting {
  pos: Pos;
  app: string;
  at: number;
  bytes: number;
}

/** Raw bytes base64-encoded this many at a time (a multiple of 3: the pieces join up). */
const PIECE = 48 * 1024;

/**
 * A delivery's journal line, written straight into one buffer: a body of 1 MiB is never
 * also a base64 string, a JSON string and a copy of those (big strings are what a
 * runtime's collector frees last).
 */
export function deliveryLine(d: NewDelivery): Buffer {
  const { body, ...meta } = d;
  const head = JSON.stringify({ k: 'd', ...meta }).slice(0, -1) + ',"body":"';
  const line = Buffer.allocUnsafe(Buffer.byteLength(head) + 4 * Math.ceil(body.length / 3) + 3);
  let at = line.write(head);
  for (let i = 0; i < body.length; i += PIECE) at += line.write(body.subarray(i, i + PIECE).toString('base64'), at, 'latin1');
  at += line.write('"}\n', at, 'latin1');
  return line;
}

export class InstanceQueue {
  /** Waiting deliveries in arrival order. */
  readonly waiting = new Map<string, Waiting>();
  bytes = 0;
  /** The same, per app: ids in arrival order, so an app's oldest is found at once. */
  readonly apps = new Map<string, { ids: Set<string>; bytes: number }>();
  private done = 0;
  /** Bytes of settled deliveries still in the file. */
  private doneBytes = 0;
  private compacting?: Promise<void>;

  private constructor(private journal: Journal<QueueRecord>) {}

  static async open(file: string): Promise<InstanceQueue> {
    // Record by record, keeping only what the index needs: never the bodies.
    const index: ({ k: 'd'; id: string; app: string; at: number; pos: Pos } | { k: 'a' | 'x'; id: string })[] = [];
    const { journal } = await Journal.open<QueueRecord>(file, (r, pos) => index.push(r.k === 'd' ? { k: 'd', id: r.id, app: r.app, at: r.at, pos } : { k: r.k, id: r.id }));
    const q = new InstanceQueue(journal);
    for (const e of index) {
      if (e.k === 'd') q.keep(e.id, e.pos, e.app, e.at);
      else q.drop(e.id);
    }
    q.done = index.length - q.waiting.size;
    return q;
  }

  private keep(id: string, pos: Pos, app: string, at: number): void {
    this.waiting.set(id, { pos, app, at, bytes: pos.length });
    this.bytes += pos.length;
    const a = this.apps.get(app) ?? { ids: new Set<string>(), bytes: 0 };
    a.ids.add(id);
    a.bytes += pos.length;
    this.apps.set(app, a);
  }

  private drop(id: string): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    this.bytes -= w.bytes;
    const a = this.apps.get(w.app)!;
    a.ids.delete(id);
    a.bytes -= w.bytes;
    if (a.ids.size === 0) this.apps.delete(w.app);
    this.doneBytes += w.bytes;
    return true;
  }

  /** Resolves once the delivery is on disk. */
  async add(d: NewDelivery): Promise<void> {
    const pos = await this.journal.appendLine(deliveryLine(d));
    this.keep(d.id, pos, d.app, d.at);
  }

  async read(id: string): Promise<StoredDelivery | undefined> {
    await this.compacting;
    const w = this.waiting.get(id);
    if (!w) return undefined;
    const r = await this.journal.read(w.pos);
    return r.k === 'd' ? { id: r.id, app: r.app, at: r.at, headers: r.headers, body: r.body, src: r.src } : undefined;
  }

  /** Marks a delivery handled (acked; or expired or dropped, both `x`); false if it was not waiting. */
  settle(id: string, how: 'a' | 'x'): boolean {
    if (!this.drop(id)) return false;
    // Not awaited: losing an ack in a crash only means one more resend, which the
    // instance drops as a duplicate.
    this.journal.append({ k: how, id }).catch(() => {});
    // Rewritten once settled records outnumber waiting ones, or hold 64 MiB (big bodies).
    if ((++this.done > 1000 && this.done > this.waiting.size) || this.doneBytes > 64 * 1024 * 1024) void this.compact();
    return true;
  }

  /** Rewrites the file down to what waits (one rewrite at a time; a failed one is tried again later). */
  compact(): Promise<void> {
    this.compacting ??= this.rewrite()
      .catch(() => {})
      .finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  private async rewrite(): Promise<void> {
    let ids: string[] = [];
    const positions = await this.journal.rewrite(async () => {
      // Taken only once the journal is idle: a delivery stored while we waited for that is
      // in the list (and none can be stored while the new file is written).
      // Waiting ones are copied from the old file as they are: bodies never all in memory.
      ids = [...this.waiting.keys()];
      return ids.map((id) => ({ raw: this.waiting.get(id)!.pos }));
    });
    ids.forEach((id, i) => {
      const w = this.waiting.get(id);
      if (w) w.pos = positions[i];
    });
    this.done = ids.length - this.waiting.size;
    this.doneBytes = 0;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
