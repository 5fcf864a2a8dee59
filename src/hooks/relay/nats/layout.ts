// Where a relay cluster keeps things in NATS, all under one prefix (default `toes_relay`):
//   streams <prefix>_hooks_<k>  k < shards (16 unless the first node said otherwise); an
//                               instance's webhooks are in shard hash(instance) % shards,
//                               subjects <prefix>.hooks.<k>.<instance>.<app>.<size class>;
//                               acked webhooks leave by one purge of the shard up to a
//                               sequence each second (keeper.ts), never a delete each
//   stream  <prefix>_parked     what a shard's purge passed over and no instance has acked
//                               yet (an instance offline, a link behind), copied once,
//                               subjects <prefix>.parked.<k>.<instance>.<app>.<size class>;
//                               deleted when acked (rare: it waited a second or more)
//   KV      <prefix>_instances  instance id -> {secretHash, createdAt}
//   KV      <prefix>_links      instance id -> the node holding its link (every node watches
//                               it: claims.ts); `shards` -> the count;
//                               apps.<instance id> -> the apps it said take webhooks
//   consumer (ordered)          one per relay node and shard, bringing every new webhook of
//                               the shard to the node (tap.ts)
//   subject <prefix>.nodes           each node says it is there every 5 s (room.ts shares out room by the count; keeper.ts shards by the names)
//   subject <prefix>.apps            "instance X's apps are now ...", so every node knows at once
//   subject <prefix>.verdicts        instances' verdicts on senders, batched, to every node's budgets (verdicts.ts)
//   subject <prefix>.acked           a shard's keeper asks every node what its links still need (keeper.ts)
//   subject <prefix>.parked          "instance X has webhooks parked", so its link reads them
// The app and a size class are subject tokens so that per-subject counts of the stream (one
// request) give what the drop-oldest policy needs: waiting webhooks per app, and an upper
// bound of their bytes. Shards, because nats-server 2.9 visits every consumer of a stream
// for each message stored or deleted, and so that the per-subject counts of one shard (one
// request) give the room of a group of instances (room.ts).
import { createHash } from 'node:crypto';
import type { NewDelivery, StoredDelivery } from '../store.js';

export const PREFIX = /^[a-z0-9_]{1,32}$/;

/** Size classes: class k holds payloads of at most 1 KiB << k. */
const MAX_CLASS = 11;

export const SHARDS = 16;

/** Where a webhook is stored: its sequence in its shard, or in the parked stream. */
export interface Place {
  seq: number;
  parked: boolean;
}

/**
 * A parked copy's message id: it names its original (`<shard stream>.<seq>`), so a keeper
 * that copies it again stores it once, and a link can tell the copy of a webhook it sent.
 */
export function copyId(stream: string, seq: number): string {
  return `${stream}.${seq}`;
}

/** The original a parked copy's message id names, or undefined for any other id. */
export function originalOf(id: string): { stream: string; seq: number } | undefined {
  const dot = id.lastIndexOf('.');
  const seq = Number(id.slice(dot + 1));
  return dot > 0 && Number.isSafeInteger(seq) && seq > 0 ? { stream: id.slice(0, dot), seq } : undefined;
}

/** FNV-1a: cheap, stable, spread well enough over random instance ids. */
function shardOf(instance: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < instance.length; i++) h = Math.imul(h ^ instance.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

export class NatsLayout {
  readonly instancesBucket: string;
  readonly linksBucket: string;
  readonly nodes: string;
  readonly appsNote: string;
  readonly verdicts: string;
  readonly acked: string;
  readonly parkedNote: string;
  readonly parkedStream: string;

  constructor(
    readonly prefix: string,
    readonly shards = SHARDS,
  ) {
    if (!PREFIX.test(prefix)) throw new Error(`the NATS prefix must be 1-32 of a-z, 0-9 and _, not "${prefix}"`);
    this.instancesBucket = `${prefix}_instances`;
    this.linksBucket = `${prefix}_links`;
    this.nodes = `${prefix}.nodes`;
    this.appsNote = `${prefix}.apps`;
    this.verdicts = `${prefix}.verdicts`;
    this.acked = `${prefix}.acked`;
    this.parkedNote = `${prefix}.parked`;
    this.parkedStream = `${prefix}_parked`;
  }

  /** The one stream of parked webhooks, all shards. */
  parkedStreamSubjects(): string[] {
    return [`${this.prefix}.parked.>`];
  }

  /** A stored webhook's subject in the parked stream. */
  parkedSubject(hookSubject: string): string {
    return `${this.prefix}.parked.${hookSubject.slice(this.prefix.length + '.hooks.'.length)}`;
  }

  /** All of one instance's parked webhooks, or one app's. */
  parked(instance: string, app?: string): string {
    return this.parkedSubject(this.hooks(instance, app));
  }

  /** Every parked webhook of a shard's instances. */
  shardParked(stream: string): string {
    return this.parkedSubject(this.shardHooks(stream));
  }

  /** Every shard's stream name and subjects. */
  streams(): { name: string; subjects: string[] }[] {
    return Array.from({ length: this.shards }, (_, k) => ({ name: `${this.prefix}_hooks_${k}`, subjects: [`${this.prefix}.hooks.${k}.>`] }));
  }

  /** The stream holding the instance's webhooks: its shard, or the parked stream for those parked. */
  streamOf(instance: string, parked = false): string {
    return parked ? this.parkedStream : `${this.prefix}_hooks_${shardOf(instance, this.shards)}`;
  }

  /** All of one instance's webhooks, or one app's. */
  hooks(instance: string, app?: string): string {
    const base = `${this.prefix}.hooks.${shardOf(instance, this.shards)}.${instance}`;
    return app === undefined ? `${base}.>` : `${base}.${appToken(app)}.*`;
  }

  hook(instance: string, app: string, bytes: number): string {
    return `${this.prefix}.hooks.${shardOf(instance, this.shards)}.${instance}.${appToken(app)}.${sizeClass(bytes)}`;
  }

  /** Every webhook of a shard's stream. */
  shardHooks(stream: string): string {
    return `${this.prefix}.hooks.${stream.slice(this.prefix.length + '_hooks_'.length)}.>`;
  }

  /** The instance, the app and the upper bound of the payload's bytes a stored subject stands for. */
  parseHook(subject: string): { instance: string; app: string; maxBytes: number } {
    const t = subject.split('.');
    return { instance: t[t.length - 3], app: t[t.length - 2].replaceAll('~', '.'), maxBytes: 1024 * 2 ** Number(t[t.length - 1]) };
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
export function encodeDelivery(d: NewDelivery): Uint8Array {
  const meta = JSON.stringify({ id: d.id, app: d.app, at: d.at, headers: d.headers, src: d.src });
  return Buffer.concat([Buffer.from(meta + '\n'), d.body]);
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

/** The headers a sender names its delivery by; a retry carries the same one. */
const DELIVERY_IDS = ['x-github-delivery', 'x-gitea-delivery', 'x-forgejo-delivery', 'x-gogs-delivery', 'webhook-id'];

/**
 * The stream's dedupe id for a webhook: a sender's retry (same delivery id, same bytes) is
 * stored once. Scoped to the instance and app, and bound to the body's hash, so junk sent
 * first under a guessed delivery id cannot suppress the real webhook. Without a delivery id,
 * the relay's own (unique) id.
 */
export function dedupeId(instance: string, d: NewDelivery): string {
  const sender = DELIVERY_IDS.map((h) => d.headers[h]).find((v) => v !== undefined);
  if (sender === undefined) return d.id;
  const body = createHash('sha256').update(d.body).digest();
  return createHash('sha256').update(`${instance}\0${d.app}\0${sender}\0`).update(body).digest('base64url');
}
