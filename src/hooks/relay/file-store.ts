// The relay's durable storage: one directory given on the command line.
//   instances.jsonl        registrations: id and the SHA-256 of the instance secret
//   queues/<instance>.jsonl that instance's deliveries, then their acks, append-only
// A delivery is on disk (fdatasync, group commit) before the relay answers 202. Only an
// index (id, place in the file, size, time) stays in memory; bodies are read back when
// sent, so 10,000 waiting deliveries cost little memory. A queue file is rewritten down to
// its waiting deliveries once acks outnumber them.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Journal, type Pos } from '../shared/journal.js';

export interface Stored {
  id: string;
  app: string;
  at: number;
  headers: Record<string, string>;
  body: string;
}

type QueueRecord = ({ k: 'd' } & Stored) | { k: 'a'; id: string } | { k: 'x'; id: string };

interface Waiting {
  pos: Pos;
  app: string;
  at: number;
  bytes: number;
}

export class InstanceQueue {
  /** Waiting deliveries in arrival order. */
  readonly waiting = new Map<string, Waiting>();
  bytes = 0;
  private done = 0;
  /** Bytes of settled deliveries still in the file. */
  private doneBytes = 0;
  private compacting?: Promise<void>;

  private constructor(private journal: Journal<QueueRecord>) {}

  static async open(file: string): Promise<InstanceQueue> {
    const { journal, records, positions } = await Journal.open<QueueRecord>(file);
    const q = new InstanceQueue(journal);
    records.forEach((r, i) => {
      if (r.k === 'd') q.keep(r.id, positions[i], r.app, r.at);
      else q.drop(r.id);
    });
    q.done = records.length - q.waiting.size;
    return q;
  }

  private keep(id: string, pos: Pos, app: string, at: number): void {
    this.waiting.set(id, { pos, app, at, bytes: pos.length });
    this.bytes += pos.length;
  }

  private drop(id: string): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    this.bytes -= w.bytes;
    this.doneBytes += w.bytes;
    return true;
  }

  /** Resolves once the delivery is on disk. */
  async add(d: Stored): Promise<void> {
    const pos = await this.journal.append({ k: 'd', ...d });
    this.keep(d.id, pos, d.app, d.at);
  }

  async read(id: string): Promise<Stored | undefined> {
    await this.compacting;
    const w = this.waiting.get(id);
    if (!w) return undefined;
    const r = await this.journal.read(w.pos);
    return r.k === 'd' ? { id: r.id, app: r.app, at: r.at, headers: r.headers, body: r.body } : undefined;
  }

  /** Marks a delivery handled (acked, or expired); false if it was not waiting. */
  settle(id: string, how: 'a' | 'x'): boolean {
    if (!this.drop(id)) return false;
    // Not awaited: losing an ack in a crash only means one more resend, which the
    // instance drops as a duplicate.
    this.journal.append({ k: how, id }).catch(() => {});
    // Rewritten once settled records outnumber waiting ones, or hold 64 MiB (big bodies).
    if (((++this.done > 1000 && this.done > this.waiting.size) || this.doneBytes > 64 * 1024 * 1024) && !this.compacting) {
      this.compacting = this.compact()
        .catch(() => {})
        .finally(() => (this.compacting = undefined));
    }
    return true;
  }

  private async compact(): Promise<void> {
    let ids: string[] = [];
    const positions = await this.journal.rewrite(async () => {
      // Taken only once the journal is idle: a delivery stored while we waited for that is
      // in the list (and none can be stored while the new file is written).
      ids = [...this.waiting.keys()];
      const out: QueueRecord[] = [];
      for (const id of ids) {
        const w = this.waiting.get(id);
        if (w) out.push(await this.journal.read(w.pos));
        else out.push({ k: 'x', id }); // settled while we read: keep it settled
      }
      return out;
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

interface Registration {
  id: string;
  secretHash: string;
  createdAt: string;
}

export class RelayStore {
  readonly instances = new Map<string, { secretHash: string; queue: InstanceQueue }>();
  /** Registrations run one at a time, so two for one id cannot both win. */
  private registering: Promise<unknown> = Promise.resolve();

  private constructor(
    private dir: string,
    private registrations: Journal<Registration>,
  ) {}

  static async open(dir: string): Promise<RelayStore> {
    await fs.mkdir(path.join(dir, 'queues'), { recursive: true, mode: 0o700 });
    const { journal, records } = await Journal.open<Registration>(path.join(dir, 'instances.jsonl'));
    const s = new RelayStore(dir, journal);
    for (const r of records) {
      if (!s.instances.has(r.id)) s.instances.set(r.id, { secretHash: r.secretHash, queue: await InstanceQueue.open(s.queueFile(r.id)) });
    }
    return s;
  }

  private queueFile(id: string): string {
    return path.join(this.dir, 'queues', `${id}.jsonl`);
  }

  /** 'created', 'exists' (same secret: registering again is harmless) or 'taken'. */
  register(id: string, secretHash: string): Promise<'created' | 'exists' | 'taken'> {
    const run = this.registering.then(async () => {
      const cur = this.instances.get(id);
      if (cur) return cur.secretHash === secretHash ? 'exists' : 'taken';
      await this.registrations.append({ id, secretHash, createdAt: new Date().toISOString() });
      this.instances.set(id, { secretHash, queue: await InstanceQueue.open(this.queueFile(id)) });
      return 'created';
    });
    this.registering = run.catch(() => {});
    return run as Promise<'created' | 'exists' | 'taken'>;
  }

  pending(): number {
    let n = 0;
    for (const i of this.instances.values()) n += i.queue.waiting.size;
    return n;
  }

  async close(): Promise<void> {
    for (const i of this.instances.values()) await i.queue.close();
    await this.registrations.close();
  }
}
