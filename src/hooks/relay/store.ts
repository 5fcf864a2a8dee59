// What the relay keeps, behind one interface: instance registrations, and each instance's
// webhooks until it acks them. The relay server talks only to this, so the files of
// FileRelayStore (one process) and the NATS JetStream of NatsRelayStore (a cluster of
// stateless relay nodes) are interchangeable. Every webhook is durable before `append`
// resolves: the relay answers 202 only after that. How waiting webhooks reach a connected
// instance (`feed`) and which node holds its one link (`claim`) are the backend's too: a
// cluster does both through NATS, one process in memory. What only one backend needs
// (a cluster's group counts and verdict bus, a directory's age sweep) is in backend.ts.

/** A webhook as the relay received it: the raw body (base64) and the headers that matter. */
export interface StoredDelivery {
  id: string;
  app: string;
  /** When the relay accepted it, ms since the epoch. */
  at: number;
  headers: Record<string, string>;
  body: string;
  /** The sender's address, so the instance's verdict counts for (or against) it. */
  src?: string;
}

/** A webhook to store: its body as the raw bytes it arrived as. */
export type NewDelivery = Omit<StoredDelivery, 'body'> & { body: Buffer };

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

/** An instance's verdict on a webhook from a source address. */
export interface VerdictNote {
  instance: string;
  src: string;
  accepted: boolean;
}

/** Where a connected instance's deliveries go. */
export interface FeedTarget {
  /** `pending`: webhooks still waiting for the instance, this one included. */
  send(d: StoredDelivery, pending: number): void;
  /** The feed cannot deliver any more (its source is gone): drop the link so the instance reconnects. */
  fail(reason: string): void;
  /**
   * Whether the link can take another now: false while its socket holds more than it may
   * read ahead. The feed then waits for `wake`, which the link calls as its socket drains.
   */
  ready(): boolean;
}

/** One link's deliveries: oldest first, at most a window unacked, resent on the next link until acked. */
export interface DeliveryFeed {
  /** The instance acked it: settled in the store. False when it was not in flight on this feed. */
  ack(id: string): Promise<boolean>;
  /** The instance could not store it now (a full disk): offered again a little later. False when it was not in flight here. */
  nack(id: string): boolean;
  /** Webhooks still waiting for the instance, those in flight included. */
  pending(): Promise<number>;
  /** A webhook was stored for the instance by this process. */
  wake(): void;
  /** Settled some other way (expired, dropped): no longer in flight. */
  forget(id: string): void;
  close(): Promise<void>;
}

/** A link's hold on its instance: a newer link, on this relay node or another, takes it away. */
export interface LinkClaim {
  /** False when a newer link had already claimed the instance by the time this one was recorded. */
  won: boolean;
  release(): void;
}

/**
 * The store keeps whatever it is given; how much an instance may hold, and what gives way
 * when it is full, is decided above it (room.ts), the same for every backend.
 */
export interface RelayStore {
  register(id: string, secretHash: string): Promise<Registration>;
  /** The SHA-256 of the instance's secret, or undefined for an instance not registered here. */
  lookup(id: string): Promise<string | undefined>;
  /**
   * Resolves once the webhook is durable. The instance must be registered. A backend that
   * stores a sender's retry once resolves with the id it is stored under (for a retry, the
   * id of the copy stored before).
   */
  append(instance: string, d: NewDelivery): Promise<string | void>;
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
  /**
   * The apps the instance said take webhooks (it says so on each link and on every change);
   * undefined while it never said (an old instance): then any name is taken.
   */
  apps(instance: string): Promise<ReadonlySet<string> | undefined>;
  setApps(instance: string, names: string[]): Promise<void>;
  /** Registered instance ids. */
  instances(): Promise<string[]>;
  /**
   * Starts sending the instance's waiting webhooks to a link, at most `window` unacked.
   * `waiting`: what the caller's count just before found waiting (a backend may read a long
   * backlog another way than a short one).
   */
  feed(instance: string, to: FeedTarget, window: number, waiting: number): Promise<DeliveryFeed>;
  /** Records a new link for the instance; `lost` runs when a newer link claims it (on any node). */
  claim(instance: string, lost: () => void): Promise<LinkClaim>;
  /** Whether it can take webhooks now: a cluster node cut off from NATS cannot (its /health says so). */
  available(): boolean;
  close(): Promise<void>;
}
