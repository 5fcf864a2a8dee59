// What the settings page is given by the daemon that serves it.
import type { OpResult } from '../../activate/result.js';
import type { Layout } from '../../releases/paths.js';
import type { EventLog } from '../common/event-log.js';

export interface PageDeps {
  layout: Layout;
  log: EventLog;
  /** Queues a deploy of the app; false when one is already running or waiting. */
  deployNow(app: string): Promise<boolean>;
  isDeploying(app: string): boolean;
  rollback(app: string, release: string): Promise<OpResult>;
}
