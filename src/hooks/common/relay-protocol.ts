// What the relay and an instance say to each other over the WebSocket (JSON text frames),
// and the few names both sides share. Relay -> instance: `hello` once, then `delivery`s
// (resent after a reconnect until acked). Instance -> relay: `ack` once the delivery is
// durably queued on the instance (or refused for good), with its verdict; `apps` with the
// names that take webhooks. Liveness uses WebSocket pings. Either side ignores fields and
// frames it does not know, so old and new relays and instances work together.
import { createHash, randomBytes } from 'node:crypto';

/** The headers a webhook's meaning and signature depend on, kept exactly as received. */
export const KEPT_HEADERS = [
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-hub-signature-256',
  'x-hub-signature',
  'x-github-event',
  'x-github-delivery',
  'x-gitea-event',
  'x-gitea-delivery',
  'x-gogs-delivery',
  'x-gitea-signature',
  'x-forgejo-event',
  'x-forgejo-delivery',
  'x-forgejo-signature',
];

export interface DeliveryFrame {
  type: 'delivery';
  /** The relay's id for this delivery (what the ack names). */
  id: string;
  app: string;
  /** When the relay accepted it, ms since the epoch. */
  at: number;
  headers: Record<string, string>;
  /** The body's exact bytes, base64. */
  body: string;
  /** Deliveries still waiting on the relay for this instance, this one included. */
  pending: number;
}

export interface HelloFrame {
  type: 'hello';
  instance: string;
  pending: number;
}

/** How many deliveries wait on the relay: sent with a heartbeat, or after an ack, when it is not what the instance last heard. */
export interface PendingFrame {
  type: 'pending';
  count: number;
}

export interface AckFrame {
  type: 'ack';
  id: string;
  /** The instance's answer, for the relay's log. */
  status?: number;
  /**
   * Whether the instance took it (`accepted`: queued, ignored, a duplicate) or refused it
   * (a wrong signature, an app that takes no webhooks...): the relay budgets each sender by
   * it. Absent from old instances, whose acks leave every sender's budget as it is.
   */
  verdict?: 'accepted' | 'refused';
  /** Why it was refused, for the relay's log. */
  reason?: string;
}

/**
 * The apps that take webhooks on the instance, sent on every link and whenever it changes:
 * the relay answers 404 to any other name and stores nothing for it. Never sent past
 * APPS_FRAME_MAX bytes (an old relay closes a link on a frame over 64 KiB).
 */
export interface AppsFrame {
  type: 'apps';
  names: string[];
}

export const APPS_FRAME_MAX = 60 * 1024;

export const INSTANCE_ID = /^[a-z0-9]{8,64}$/;

export function newInstance(): { id: string; secret: string } {
  return { id: randomBytes(10).toString('hex'), secret: randomBytes(32).toString('base64url') };
}

/** Only this is stored on the relay. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Close codes the relay uses. */
export const CLOSE = { replaced: 4001, shutdown: 1001 } as const;
