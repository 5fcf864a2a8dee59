// Where a running `toes serve` listens (rev/hooks/serve.json), for `toes webhook status`
// and the settings page. Small on purpose: reading it must not load the daemon.
import fs from 'node:fs/promises';
import { writeJsonDurable } from '../../releases/durable.js';
import { lockHolder } from '../../releases/lock.js';
import type { Layout } from '../../releases/paths.js';
import type { Started } from '../common/assembly.js';

export const DEFAULT_PORT = 7420;
export const DEFAULT_HOST = '127.0.0.1';
/** The page's own port when --page-host alone splits it off. */
export const DEFAULT_PAGE_PORT = 7422;

export interface ServeInfo {
  pid: number;
  host: string;
  port: number;
  url: string;
  /** Where the settings page is: `url`, or its own address with --page-host / --page-port. */
  pageUrl: string;
  startedAt: string;
}

/**
 * Where a running daemon listens, or undefined when none runs for this DATA_DIR. A live
 * pid in serve.json is not enough (after a kill -9 the pid may now be another process's):
 * the daemon must still hold the serve lock, whose note knows when its owner started.
 */
export async function runningDaemon(layout: Layout): Promise<ServeInfo | undefined> {
  let info: ServeInfo;
  try {
    info = JSON.parse(await fs.readFile(layout.serveFile, 'utf8')) as ServeInfo;
  } catch {
    return undefined;
  }
  const holder = await lockHolder(layout.serveLock);
  return holder?.pid === info.pid ? info : undefined;
}

/** The daemon's part that says where it is; undone by removing the file. */
export async function announce(layout: Layout, host: string, bound: { port: number; url: string }, page: { url: string } = bound): Promise<Started<ServeInfo>> {
  const info: ServeInfo = { pid: process.pid, host, port: bound.port, url: bound.url, pageUrl: page.url, startedAt: new Date().toISOString() };
  await writeJsonDurable(layout.serveFile, info, { compact: true, mode: 0o644 });
  return { value: info, undo: () => fs.rm(layout.serveFile, { force: true }) };
}
