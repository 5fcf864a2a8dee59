// The settings page, on the daemon's own server: loaded on its first visit, so a daemon
// that only takes webhooks stays small. The page acts through what is given here: Deploy
// Now queues an event like a webhook's, and a rollback runs in a worker and is told like a deploy's end.
import type { Layout } from '../../releases/paths.js';
import type { EventLog } from '../common/event-log.js';
import type { DeployQueue } from './queue.js';
import { rollbackInWorker } from './runner.js';
import type { DeployNotices, Scheduler } from './scheduler.js';

type PageRouter = import('../page/routes.js').PageRouter;

/** Whether the page answers this path (everything under /apps/ and /assets/ is its own to answer, 404s included). */
export function isPagePath(url: string): boolean {
  return url === '/' || url === '/login' || url === '/login/session' || url.startsWith('/apps/') || url.startsWith('/assets/');
}

export interface PageLoader {
  load(): Promise<PageRouter>;
  /** Ends the page's live streams, if the page was ever loaded. */
  closeStreams(): void;
}

export function pageLoader(layout: Layout, log: EventLog, queue: DeployQueue, scheduler: Scheduler, notices: DeployNotices): PageLoader {
  let page: Promise<PageRouter> | undefined;
  let loaded: PageRouter | undefined;
  const busy = (app: string) => scheduler.active().includes(app) || !!queue.peek(app);
  return {
    load: () =>
      (page ??= import('../page/routes.js').then(({ allowFraming, pageRouter }) => {
        allowFraming(layout.roots.toesUrl);
        loaded = pageRouter({
          layout,
          log,
          isDeploying: busy,
          async deployNow(app) {
            if (busy(app)) return false;
            await queue.offer({ app, id: `page-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, format: 'page', receivedAt: new Date().toISOString() });
            scheduler.kick(app);
            return true;
          },
          // Its events are in the outbox when the page is answered.
          async rollback(app, release) {
            const r = await rollbackInWorker(layout, app, release);
            await notices.ended(app, undefined, r);
            return r;
          },
        });
        return loaded;
      })),
    closeStreams: () => loaded?.closeStreams(),
  };
}
