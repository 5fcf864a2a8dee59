// What the relay keeps, behind one interface: instance registrations, and each instance's
// webhooks until it acks them. The relay server talks only to this, so a second backend
// (NATS JetStream, for a relay cluster) can replace the files of FileRelayStore without
// touching the server. Every webhook is durable before `append` resolves: the relay
// answers 202 only after that.

/** A webhook as the relay received it: the raw body (base64) and the headers that matter. */
export interface StoredDelivery {
  id: string;
  app: string;
  /** When the relay accepted it, ms since the epoch. */
  at: number;
  headers: Record<string, string>;
  body: string;
}

/** A waiting webhook without its body, for deciding what to send or expire. */
export interface WaitingDelivery {
  id: string;
  app: string;
  at: number;
}

/** What waits for an instance, in all and per app (apps with nothing waiting are left out). */
export interface WaitingCounts {
  waiting: number;
  bytes: number;
  apps: Record<string, { waiting: number; bytes: number }>;
}

/** `exists`: the same id and secret again (harmless); `taken`: the id has another secret. */
export type Registration = 'created' | 'exists' | 'taken';

export type Settled = 'acked' | 'expired' | 'dropped';

/**
 * The store keeps whatever it is given; how much an instance may hold, and what gives way
 * when it is full, is decided above it (room.ts), the same for every backend.
 */
export interface RelayStore {
  register(id: string, secretHash: string): Promise<Registration>;
  /** The SHA-256 of the instance's secret, or undefined for an instance not registered here. */
  lookup(id: string): Promise<string | undefined>;
  /** Resolves once the webhook is durable. The instance must be registered. */
  append(instance: string, d: StoredDelivery): Promise<void>;
  /** The instance's waiting webhooks (of one app, if given) in arrival order, the oldest `limit` of them. */
  pending(instance: string, limit?: number, app?: string): Promise<WaitingDelivery[]>;
  /** A waiting webhook whole, or undefined once it is settled. */
  read(instance: string, id: string): Promise<StoredDelivery | undefined>;
  /** Done with: acked by the instance, expired, or dropped to make room. False when it was not waiting. */
  settle(instance: string, id: string, how: Settled): Promise<boolean>;
  /** The instance's waiting webhooks and their stored bytes, in all and per app. */
  counts(instance: string): Promise<WaitingCounts>;
  /** Registered instances, and webhooks waiting for all of them. */
  totals(): Promise<{ instances: number; waiting: number }>;
  /** Registered instance ids. */
  instances(): Promise<string[]>;
  /** Gives back the room settled webhooks take (a backend may also do it on its own). */
  compact(): Promise<void>;
  close(): Promise<void>;
}
