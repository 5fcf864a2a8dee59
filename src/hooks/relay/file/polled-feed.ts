// Deliveries read from the store itself, for a backend in this process (the files): each
// pump takes the oldest waiting webhooks and sends those not yet in flight, up to the
// window and as far as the link's socket drains (each body is read from disk only when it
// goes out); an ack settles one in the store and pumps again, and so does a drained socket.
// A new link starts with nothing in flight, so everything unacked is resent to it.
import type { DeliveryFeed, FeedTarget, RelayStore } from '../store.js';

export function polledFeed(store: RelayStore, instance: string, to: FeedTarget, window: number): DeliveryFeed {
  const inflight = new Set<string>();
  let pumping = false;
  let again = false;
  let closed = false;

  const pumpOnce = async () => {
    // The oldest `window` hold at least as many unsent ones as the window has room for.
    const waiting = await store.pending(instance, window);
    const { waiting: count } = await store.counts(instance);
    for (const { id } of waiting) {
      if (closed || inflight.size >= window || !to.ready()) break;
      if (inflight.has(id)) continue;
      const d = await store.read(instance, id);
      if (!d || closed) continue;
      inflight.add(id);
      to.send(d, count);
    }
  };

  const pump = async () => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        await pumpOnce();
      } while (again && !closed);
    } catch (err) {
      // Cannot read a stored delivery back: drop the link; the next one starts afresh.
      to.fail(`sending deliveries: ${(err as Error).message}`);
    } finally {
      pumping = false;
    }
  };

  void pump();
  return {
    async ack(id) {
      inflight.delete(id);
      const settled = await store.settle(instance, id, 'acked');
      void pump();
      return settled;
    },
    nack(id) {
      if (!inflight.delete(id)) return false;
      setTimeout(() => void pump(), 5_000).unref();
      return true;
    },
    async pending() {
      return (await store.counts(instance)).waiting;
    },
    wake: () => void pump(),
    forget: (id) => void inflight.delete(id),
    async close() {
      closed = true;
    },
  };
}
