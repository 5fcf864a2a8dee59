// The durable outbox: one file per message to send (rev/notify/outbox/<name>.json), written
// and fsynced before a deploy's result is reported, removed once the message was delivered
// or given up on. No secret is in it: the token and the receiver's secret and URL are read
// when it is sent. File names sort in the order messages were made, so a sender keeps each
// lane (one commit's statuses, one receiver's events) in order.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../releases/durable.js';
import type { Layout } from '../../releases/paths.js';
import { writeFileAtomic } from '../../fetch/write-atomic.js';
import type { DeployEvent } from './events.js';
import { notifyDir, outboxDir } from './paths.js';
import type { Forge } from './forge.js';
import type { CommitStatus } from './forge-status.js';

export type Message =
  | { kind: 'status'; forge: Forge; status: CommitStatus }
  /** `body` is the event as sent: the same bytes on every attempt. */
  | { kind: 'event'; receiver: string; global: boolean; event: DeployEvent; body: string };

export interface OutboxItem {
  /** The `webhook-id`: the same on every attempt, so receivers drop repeats. */
  id: string;
  app: string;
  /** Messages of one lane are sent one at a time, in order. */
  lane: string;
  createdAt: number;
  message: Message;
  attempts: number;
  /** When the next attempt is due (ms since epoch). */
  nextAt: number;
  lastError?: string;
  /** The file it is kept in, once written. */
  file?: string;
}

export function senderLock(layout: Layout): string {
  return path.join(notifyDir(layout), 'sender.lock');
}

let made = 0;

export function newItem(app: string, lane: string, message: Message, now = Date.now()): OutboxItem {
  return { id: `msg_${randomBytes(12).toString('hex')}`, app, lane, createdAt: now, message, attempts: 0, nextAt: now };
}

/** Writes the items, each synced with its folder: after this returns they survive a crash. */
export async function put(layout: Layout, items: OutboxItem[]): Promise<void> {
  if (!items.length) return;
  const dir = outboxDir(layout);
  for (const item of items) {
    const name = `${String(item.createdAt).padStart(15, '0')}-${String(made++ % 1e6).padStart(6, '0')}-${item.id}.json`;
    const file = path.join(dir, name);
    await writeFileDurable(file, JSON.stringify({ ...item, file: undefined }), { mode: 0o600 });
    item.file = file;
  }
}

/** Every waiting item, oldest first. An unreadable file (cut short by a full disk) is skipped. */
export async function list(layout: Layout): Promise<OutboxItem[]> {
  const dir = outboxDir(layout);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const items: OutboxItem[] = [];
  for (const n of names) {
    try {
      const item = JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as OutboxItem;
      items.push({ ...item, file: path.join(dir, n) });
    } catch {}
  }
  return items;
}

/** How many items wait, without reading them. */
export async function waiting(layout: Layout): Promise<number> {
  try {
    return (await fs.readdir(outboxDir(layout))).filter((n) => n.endsWith('.json')).length;
  } catch {
    return 0;
  }
}

/** After a failed attempt. Not synced: a power cut that loses it only costs an attempt sooner. */
export async function update(item: OutboxItem): Promise<void> {
  if (!item.file) return;
  await writeFileAtomic(item.file, JSON.stringify({ ...item, file: undefined }), 0o600);
}

export async function remove(item: OutboxItem): Promise<void> {
  if (item.file) await fs.rm(item.file, { force: true });
}
