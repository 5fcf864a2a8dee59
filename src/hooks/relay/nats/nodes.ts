// How many relay nodes write to the cluster now: each says so on <prefix>.nodes every 5 s,
// and answers a newcomer's hello at once, so a node starting knows the others within a
// round trip. Room budgets (room.ts) are shared out by this count, and shards to keep
// (keeper.ts) by the names.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { listenJson } from './listen.js';

const EVERY_MS = 5_000;

export class NatsNodes {
  private seen = new Map<string, number>();
  private sub: Subscription;
  private timer: NodeJS.Timeout;

  constructor(
    private nc: NatsConnection,
    private subject: string,
    private node: string,
  ) {
    this.sub = listenJson<{ node: string; hello?: boolean }>(nc, subject, ({ node: other, hello }) => {
      if (other === node) return;
      this.seen.set(other, Date.now());
      if (hello) this.say(false);
    });
    this.say(true);
    this.timer = setInterval(() => this.say(false), EVERY_MS);
    this.timer.unref();
  }

  private say(hello: boolean): void {
    this.nc.publish(this.subject, JSON.stringify({ node: this.node, hello }));
  }

  /** Forgets the nodes not heard from within three rounds. */
  private prune(): void {
    const since = Date.now() - 3 * EVERY_MS;
    for (const [k, at] of this.seen) if (at < since) this.seen.delete(k);
  }

  /** This node and those heard from within three rounds. */
  count(): number {
    this.prune();
    return 1 + this.seen.size;
  }

  /** This node and those heard from within three rounds, sorted: the same list on every node once all have heard each other. */
  names(): string[] {
    this.prune();
    return [this.node, ...this.seen.keys()].sort();
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
  }
}
