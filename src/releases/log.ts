// The release log: per app, append-only, one JSON record per line, fsynced before any
// step that depends on it. A release's state is its last record; the order of releases
// is the order they first appear. Nothing else (directory listings, mtimes) orders them.
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';
import { writeFileDurable } from './durable.js';

export type ReleaseStatus = 'building' | 'failed' | 'live' | 'previous' | 'rolled-back' | 'bad';

export interface ReleaseRecord {
  /** The release directory name under APPS_DIR/<app> (Toes' timestamp form). */
  id: string;
  version: string;
  kind: 'git' | 'tarball' | 'dir' | 'adopted';
  status: ReleaseStatus;
  source?: string;
  ref?: string;
  commit?: string;
  createdAt: string;
  finishedAt?: string;
  /** Who asked: cli, webhook, page, adopt. */
  trigger: string;
  /** The process building it, so an interrupted build can be recognised. */
  pid?: number;
  /** The release directory exists and is complete. */
  sealed?: boolean;
  /** The directory was removed by retention; the record stays for history. */
  pruned?: boolean;
  /** Why it failed, with the tail of its deploy log. */
  error?: { code: string; message: string; stage?: string; logTail?: string };
  /** Where an adopted release lives, when it is not a directory beside `current`. */
  path?: string;
}

export async function readLog(file: string): Promise<ReleaseRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: ReleaseRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec: ReleaseRecord;
    try {
      rec = JSON.parse(line);
    } catch {
      continue; // a torn line from a crash mid-append carries nothing committed
    }
    if (rec && typeof rec.id === 'string') records.push(rec);
  }
  return foldRecords(records);
}

/** Records in log order, folded into one per release (its last state), in release order. */
export function foldRecords(records: ReleaseRecord[]): ReleaseRecord[] {
  // A Map keeps first-insertion order, which is the release order.
  const byId = new Map<string, ReleaseRecord>();
  for (const rec of records) {
    const prev = byId.get(rec.id);
    byId.set(rec.id, prev ? { ...prev, ...rec, createdAt: prev.createdAt } : rec);
  }
  return [...byId.values()];
}

/** Appends records and fsyncs; a torn write can only lose the records of this call. */
export async function appendLog(file: string, records: ReleaseRecord[]): Promise<void> {
  if (records.length === 0) return;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const fh = await fs.open(file, 'a+', 0o600);
    try {
      // After a crash mid-append the file may end in a torn line; start on a fresh line so
      // that only the torn record is lost, never this one.
      const { size } = await fh.stat();
      let lead = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) lead = '\n';
      }
      await fh.write(lead + records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw translateSystemError(err, 'writing the release log');
  }
}

// Below this a log is read in well under a millisecond: not worth a rewrite.
const COMPACT_MIN_BYTES = 64 * 1024;

/**
 * Rewrites the log as readLog folds it, one record per release, once superseded lines are
 * most of it: each rollback adds two lines, and every deploy and rollback reads the whole
 * log (after 1,500 lines a rollback's own stages took 13-24 ms on Node instead of 10-14).
 * `known` (the releases as last read) gives a cheap estimate, so the log is read again
 * only when a rewrite looks due. The caller holds the app's lock: no append may land
 * between the read and the rename. True when it rewrote.
 */
export async function compactLog(file: string, known: ReleaseRecord[]): Promise<boolean> {
  const size = (await fs.stat(file).catch(() => undefined))?.size ?? 0;
  if (size < COMPACT_MIN_BYTES) return false;
  if (size < 2 * known.reduce((n, r) => n + JSON.stringify(r).length + 1, 0)) return false;
  const text = (await readLog(file)).map((r) => JSON.stringify(r)).join('\n') + '\n';
  if (Buffer.byteLength(text) * 2 > size) return false;
  // Written beside and renamed over: a reader, or a power cut, sees the old log or this one.
  await writeFileDurable(file, text, { mode: 0o600 });
  return true;
}
