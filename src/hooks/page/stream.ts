// The live stream of an app's page (server-sent events, Hono's streamSSE): sections whose
// HTML changed, and deploy log text as it grows. A stream wakes when the app's state
// directory or its deploy logs change (fs.watch), when the page acts on the app, and once
// a second for what lives only in the daemon's memory (a queued deploy); it used to read
// the whole state every 300 ms. Streams end at shutdown; the pages reconnect to the next
// daemon by themselves.
import fs from 'node:fs';
import path from 'node:path';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { printable } from '../../printable.js';
import type { Layout } from '../../releases/paths.js';
import type { PageContext } from './respond.js';
import { readLogFrom, type AppPageState } from './state.js';
import { logSection, releasesSection, webhookSection } from './views.js';

/** The longest a stream sleeps without a change it was told of. */
const FALLBACK_MS = 1000;
/** Changes that come in a burst (a deploy writes several files) are read once. */
const SETTLE_MS = 30;

interface Live {
  app: string;
  sse: SSEStreamingApi;
  wake(): void;
}

/** Wakes `onChange` when files in the app's state directory or its logs change. */
function watchApp(layout: Layout, app: string, onChange: () => void): () => void {
  const watchers = new Map<string, fs.FSWatcher>();
  const dirs = [layout.appState(app), path.join(layout.appState(app), 'logs')];
  const ensure = () => {
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, () => {
          ensure();
          onChange();
        });
        w.on('error', () => {
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch {
        // not there yet (an app never deployed): the fallback wakes the stream, and the next change adds the watch
      }
    }
  };
  ensure();
  return () => {
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}

export class LiveStreams {
  private live = new Set<Live>();

  constructor(
    private layout: Layout,
    private state: (app: string) => Promise<AppPageState>,
  ) {}

  /** A live stream of an app's page: changed sections as HTML, deploy log text as it grows. */
  open(c: PageContext, app: string): Response {
    return streamSSE(c, async (sse) => {
      let last = { webhooks: '', releases: '', logHead: '' };
      /** Bytes of the shown deploy log already on the page. */
      let logSent = 0;
      let wakeUp: (() => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        clearTimeout(timer);
        timer = setTimeout(() => wakeUp?.(), SETTLE_MS);
      };
      const entry: Live = { app, sse, wake: () => wakeUp?.() };
      this.live.add(entry);
      const unwatch = watchApp(this.layout, app, wake);
      sse.onAbort(() => entry.wake());
      try {
        await sse.write('retry: 1000\n\n');
        while (!sse.aborted && !sse.closed) {
          try {
            const s = await this.state(app);
            const sections: Record<string, string> = {};
            const w = webhookSection(s).toString();
            const r = releasesSection(s).toString();
            if (w !== last.webhooks) sections.webhooks = w;
            if (r !== last.releases) sections.releases = r;
            const logHead = `${s.log?.release}:${s.log?.running}`;
            if (logHead !== last.logHead) {
              sections.log = logSection(s).toString();
              logSent = s.log?.size ?? 0;
            } else if (s.log && s.log.size > logSent) {
              // Read on from where the page is, however long the log has grown.
              // As the rendered log: controls from the build's output are escaped (html.ts), since the page sets this text as is.
              await sse.writeSSE({ event: 'log', data: JSON.stringify(printable(await readLogFrom(this.layout, app, s.log.release, logSent, s.log.size), { lines: true })) });
              logSent = s.log.size;
            }
            last = { webhooks: w, releases: r, logHead };
            if (Object.keys(sections).length) await sse.writeSSE({ event: 'sections', data: JSON.stringify(sections) });
          } catch {
            // the app's files are changing under us; the next wake sees them settled
          }
          await new Promise<void>((resolve) => {
            wakeUp = resolve;
            setTimeout(resolve, FALLBACK_MS).unref();
          });
          wakeUp = undefined;
        }
      } finally {
        clearTimeout(timer);
        unwatch();
        this.live.delete(entry);
      }
    });
  }

  /** The page acted on `app`: its streams look now rather than at the next change. */
  poke(app: string): void {
    for (const l of this.live) if (l.app === app) l.wake();
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const l of this.live) {
      void l.sse.close();
      l.wake();
    }
  }
}
