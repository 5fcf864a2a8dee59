// One live link per instance across relay nodes. A node that takes a link writes the
// instance's key in the links bucket; the bucket's revision orders every claim ever made,
// whatever the nodes' clocks say. It then tells every node (`<prefix>.claims`), and a node
// holding a link with an older revision closes it (4001). A claim that raced another
// reads the key back after announcing itself: if a newer revision is there, it lost.
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { listenJson } from './listen.js';
import type { LinkClaim } from '../store.js';

interface Held {
  rev: number;
  lost: () => void;
}

export class NatsClaims {
  private held = new Map<string, Held>();
  private sub: Subscription;

  constructor(
    private nc: NatsConnection,
    private links: KV,
    private subject: string,
    private node: string,
  ) {
    this.sub = listenJson<{ i: string; rev: number }>(nc, subject, ({ i, rev }) => this.superseded(i, rev));
  }

  private superseded(instance: string, rev: number): void {
    const h = this.held.get(instance);
    if (h && h.rev < rev) {
      this.held.delete(instance);
      h.lost();
    }
  }

  async claim(instance: string, lost: () => void): Promise<LinkClaim> {
    const rev = await this.links.put(instance, JSON.stringify({ node: this.node, at: Date.now() }));
    const mine: Held = { rev, lost };
    const older = this.held.get(instance);
    this.held.set(instance, mine);
    if (older && older.rev < rev) older.lost();
    this.nc.publish(this.subject, JSON.stringify({ i: instance, rev }));
    const latest = await this.links.get(instance);
    const won = !latest || latest.revision <= rev;
    const release = () => {
      if (this.held.get(instance) === mine) this.held.delete(instance);
    };
    if (!won) release();
    return { won, release };
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
