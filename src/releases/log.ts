// The release log: per app, append-only, one JSON record per line, fsynced before any
// step that depends on it. A release's state is its last record; the order of releases
// is the order they first appear. Nothing else (directory listings, mtimes) orders them.
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';

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
