// One live link per instance across relay nodes. A node that takes a link puts the
// instance's key in the links bucket; the bucket's revision orders every claim ever made,
// whatever the nodes' clocks say. Every node watches the bucket, and a node holding a link
// whose claim has an older revision than one the watch brings closes it (4001). The newest
// link always wins, so a claim is a plain put: checking the revision it replaces would only
// add a read.
import { KvWatchInclude, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import { persist } from './connect.js';
import type { LinkClaim } from '../store.js';

interface Held {
  rev: number;
  lost: () => void;
}

/** Newest revisions remembered (a claim's put may return after the watch showed a newer one). */
const MEMO = 200_000;

export class NatsClaims {
  private held = new Map<string, Held>();
  private newest = new Map<string, number>();
  private watch?: QueuedIterator<KvWatchEntry>;
  private closed = false;

  constructor(
    private links: KV,
    private node: string,
  ) {}

  /** Starts the watch: resolves once it is made, so no claim made after is missed. */
  async start(): Promise<void> {
    // Instance ids are one token; `apps.<id>` and the shard count are not claims.
    this.watch = await persist(() => this.links.watch({ key: '*', include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true }), 15_000);
    void (async () => {
      for await (const e of this.watch!) this.seen(e.key, e.revision);
    })().catch(() => {});
  }

  private seen(instance: string, rev: number): void {
    if ((this.newest.get(instance) ?? 0) < rev) {
      if (this.newest.size >= MEMO) this.newest.clear();
      this.newest.set(instance, rev);
    }
    const h = this.held.get(instance);
    if (h && h.rev < rev) {
      this.held.delete(instance);
      h.lost();
    }
  }

  async claim(instance: string, lost: () => void): Promise<LinkClaim> {
    const rev = await this.links.put(instance, JSON.stringify({ node: this.node, at: Date.now() }));
    const mine: Held = { rev, lost };
    const won = !this.closed && (this.newest.get(instance) ?? 0) <= rev;
    const release = () => {
      if (this.held.get(instance) === mine) this.held.delete(instance);
    };
    if (!won) return { won, release };
    const older = this.held.get(instance);
    this.held.set(instance, mine);
    if (older && older.rev < rev) older.lost();
    return { won, release };
  }

  close(): void {
    this.closed = true;
    this.watch?.stop();
  }
}
