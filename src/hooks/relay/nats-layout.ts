// Where a relay cluster keeps things in NATS, all under one prefix (default `toes_relay`):
//   stream  <prefix>_hooks      subjects <prefix>.hooks.<instance>.<app>.<size class>;
//                               an acked, dropped or expired webhook is deleted from it
//   KV      <prefix>_instances  instance id -> {secretHash, createdAt}
//   KV      <prefix>_links      instance id -> the node and connection holding its link
//   consumer <instance>-<random> one per link, pushing to <prefix>.dlv.<instance>.<consumer>
//   subject <prefix>.claims          "instance X has a new link, revision R", to every node
// The app and a size class are subject tokens so that per-subject counts of the stream (one
// request) give what the drop-oldest policy needs: waiting webhooks per app, and an upper
// bound of their bytes.
import type { StoredDelivery } from './store.js';

export const PREFIX = /^[a-z0-9_]{1,32}$/;

/** Size classes: class k holds payloads of at most 1 KiB << k. */
const MAX_CLASS = 11;

export class NatsLayout {
  readonly stream: string;
  readonly instancesBucket: string;
  readonly linksBucket: string;
  readonly claims: string;

  constructor(readonly prefix: string) {
    if (!PREFIX.test(prefix)) throw new Error(`the NATS prefix must be 1-32 of a-z, 0-9 and _, not "${prefix}"`);
    this.stream = `${prefix}_hooks`;
    this.instancesBucket = `${prefix}_instances`;
    this.linksBucket = `${prefix}_links`;
    this.claims = `${prefix}.claims`;
  }

  /** All of one instance's webhooks, or one app's. */
  hooks(instance: string, app?: string): string {
    return app === undefined ? `${this.prefix}.hooks.${instance}.>` : `${this.prefix}.hooks.${instance}.${appToken(app)}.*`;
  }

  hook(instance: string, app: string, bytes: number): string {
    return `${this.prefix}.hooks.${instance}.${appToken(app)}.${sizeClass(bytes)}`;
  }

  /** Where a link's consumer pushes its deliveries. */
  deliver(instance: string, consumer: string): string {
    return `${this.prefix}.dlv.${instance}.${consumer}`;
  }

  /** The app and the upper bound of the payload's bytes a stored subject stands for. */
  parseHook(subject: string): { app: string; maxBytes: number } {
    const t = subject.split('.');
    return { app: t[t.length - 2].replaceAll('~', '.'), maxBytes: 1024 * 2 ** Number(t[t.length - 1]) };
  }
}

/** App names may hold ".", NATS's token separator; "~" is not allowed in them, so it stands in. */
function appToken(app: string): string {
  return app.replaceAll('.', '~');
}

function sizeClass(bytes: number): number {
  let k = 0;
  while (k < MAX_CLASS && 1024 * 2 ** k < bytes) k++;
  return k;
}

/** A stored message: the delivery's metadata as one JSON line, then the body's raw bytes (no base64 in the stream). */
export function encodeDelivery(d: StoredDelivery): Uint8Array {
  const meta = JSON.stringify({ id: d.id, app: d.app, at: d.at, headers: d.headers });
  return Buffer.concat([Buffer.from(meta + '\n'), Buffer.from(d.body, 'base64')]);
}

export function decodeMeta(data: Uint8Array): Omit<StoredDelivery, 'body'> & { bodyAt: number } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const nl = buf.indexOf(10);
  return { ...JSON.parse(buf.subarray(0, nl).toString('utf8')), bodyAt: nl + 1 };
}

export function decodeDelivery(data: Uint8Array): StoredDelivery {
  const { bodyAt, ...meta } = decodeMeta(data);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { ...meta, body: buf.subarray(bodyAt).toString('base64') };
}
