// The relay's store on local disk, one directory given on the command line:
//   instances.jsonl          registrations: id and the SHA-256 of the instance secret
//   queues/<instance>.jsonl  that instance's webhooks, then their acks (queue.ts)
//   apps/<instance>.json     the apps it last said take webhooks
// No database, no native modules: it runs on Node and Bun.
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeJsonDurable } from '../../../releases/durable.js';
import { Journal } from '../../common/journal.js';
import { InstanceQueue } from './queue.js';
import { polledFeed } from './polled-feed.js';
import type { DeliveryFeed, FeedTarget, LinkClaim, NewDelivery, Registration, RelayStore, Settled, StoredDelivery, WaitingCounts, WaitingDelivery } from '../store.js';

interface RegistrationRecord {
  id: string;
  secretHash: string;
  createdAt: string;
}

export class FileRelayStore implements RelayStore {
  private registered = new Map<string, { secretHash: string; queue: InstanceQueue; apps?: ReadonlySet<string> }>();
  /** Registrations run one at a time, so two for one id cannot both win. */
  private registering: Promise<unknown> = Promise.resolve();

  private constructor(
    private dir: string,
    private registrations: Journal<RegistrationRecord>,
  ) {}

  static async open(dir: string): Promise<FileRelayStore> {
    await fs.mkdir(path.join(dir, 'queues'), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(dir, 'apps'), { recursive: true, mode: 0o700 });
    const { journal, records } = await Journal.open<RegistrationRecord>(path.join(dir, 'instances.jsonl'));
    const s = new FileRelayStore(dir, journal);
    for (const r of records) {
      if (!s.registered.has(r.id)) s.registered.set(r.id, { secretHash: r.secretHash, queue: await InstanceQueue.open(s.queueFile(r.id)), apps: await s.readApps(r.id) });
    }
    return s;
  }

  private appsFile(id: string): string {
    return path.join(this.dir, 'apps', `${id}.json`);
  }

  private async readApps(id: string): Promise<ReadonlySet<string> | undefined> {
    const text = await fs.readFile(this.appsFile(id), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const names: unknown = JSON.parse(text);
      return Array.isArray(names) ? new Set(names.filter((n): n is string => typeof n === 'string')) : undefined;
    } catch {
      return undefined; // as if never said: every name is taken until the instance says again
    }
  }

  async apps(instance: string): Promise<ReadonlySet<string> | undefined> {
    return this.registered.get(instance)?.apps;
  }

  async setApps(instance: string, names: string[]): Promise<void> {
    const i = this.registered.get(instance);
    if (!i) return;
    const next = new Set(names);
    if (i.apps && i.apps.size === next.size && names.every((n) => i.apps!.has(n))) return;
    i.apps = next;
    await writeJsonDurable(this.appsFile(instance), [...next], { mode: 0o600, compact: true });
  }

  private queueFile(id: string): string {
    return path.join(this.dir, 'queues', `${id}.jsonl`);
  }

  private queue(instance: string): InstanceQueue {
    const i = this.registered.get(instance);
    if (!i) throw new Error(`no instance ${instance} is registered`);
    return i.queue;
  }

  register(id: string, secretHash: string): Promise<Registration> {
    const run = this.registering.then(async (): Promise<Registration> => {
      const cur = this.registered.get(id);
      if (cur) return cur.secretHash === secretHash ? 'exists' : 'taken';
      await this.registrations.append({ id, secretHash, createdAt: new Date().toISOString() });
      this.registered.set(id, { secretHash, queue: await InstanceQueue.open(this.queueFile(id)) });
      return 'created';
    });
    this.registering = run.catch(() => {});
    return run;
  }

  async lookup(id: string): Promise<string | undefined> {
    return this.registered.get(id)?.secretHash;
  }

  append(instance: string, d: NewDelivery): Promise<void> {
    return this.queue(instance).add(d);
  }

  async pending(instance: string, limit = Infinity, app?: string): Promise<WaitingDelivery[]> {
    const q = this.queue(instance);
    const ids = app === undefined ? q.waiting.keys() : (q.apps.get(app)?.ids ?? []);
    const out: WaitingDelivery[] = [];
    for (const id of ids) {
      if (out.length >= limit) break;
      const w = q.waiting.get(id)!;
      out.push({ id, app: w.app, at: w.at });
    }
    return out;
  }

  read(instance: string, id: string): Promise<StoredDelivery | undefined> {
    return this.queue(instance).read(id);
  }

  async settle(instance: string, id: string, how: Settled): Promise<boolean> {
    return this.queue(instance).settle(id, how === 'acked' ? 'a' : 'x');
  }

  async counts(instance: string): Promise<WaitingCounts> {
    const q = this.queue(instance);
    const apps: WaitingCounts['apps'] = {};
    for (const [app, a] of q.apps) apps[app] = { waiting: a.ids.size, bytes: a.bytes };
    return { waiting: q.waiting.size, bytes: q.bytes, apps };
  }

  async totals(): Promise<{ instances: number; waiting: number }> {
    let waiting = 0;
    for (const i of this.registered.values()) waiting += i.queue.waiting.size;
    return { instances: this.registered.size, waiting };
  }

  async instances(): Promise<string[]> {
    return [...this.registered.keys()];
  }

  /** Rewrites every queue without its settled webhooks now (each also does so on its own as they pile up). */
  async compact(): Promise<void> {
    for (const i of this.registered.values()) await i.queue.compact();
  }

  async feed(instance: string, to: FeedTarget, window: number, _waiting: number): Promise<DeliveryFeed> {
    return polledFeed(this, instance, to, window);
  }

  available(): boolean {
    return true;
  }

  /** One process holds every link: the hub replaces an older one itself. */
  async claim(): Promise<LinkClaim> {
    return { won: true, release() {} };
  }

  async close(): Promise<void> {
    for (const i of this.registered.values()) await i.queue.close();
    await this.registrations.close();
  }
}
