// The live stream of an app's page (server-sent events): sections whose HTML changed,
// and deploy log text as it grows. Streams end at shutdown; the pages reconnect to the
// next daemon by themselves.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Layout } from '../../releases/paths.js';
import { readLogFrom, type AppPageState } from './state.js';
import { logSection, releasesSection, webhookSection } from './views.js';

export class LiveStreams {
  private streams = new Set<{ res: ServerResponse; stop(): void }>();

  constructor(
    private layout: Layout,
    private state: (app: string) => Promise<AppPageState>,
  ) {}

  /** A live stream of an app's page: changed sections as HTML, deploy log text as it grows. */
  open(req: IncomingMessage, res: ServerResponse, app: string): void {
    const { layout, streams } = this;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    let last = { webhooks: '', releases: '', logHead: '' };
    /** Bytes of the shown deploy log already on the page. */
    let logSent = 0;
    let busy = false;
    const write = (text: string) => {
      if (!res.writableEnded && !res.destroyed) res.write(text);
    };
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const s = await this.state(app);
        const sections: Record<string, string> = {};
        const w = webhookSection(s).text;
        const r = releasesSection(s).text;
        if (w !== last.webhooks) sections.webhooks = w;
        if (r !== last.releases) sections.releases = r;
        const logHead = `${s.log?.release}:${s.log?.running}`;
        if (logHead !== last.logHead) {
          sections.log = logSection(s).text;
          logSent = s.log?.size ?? 0;
        } else if (s.log && s.log.size > logSent) {
          // Read on from where the page is, however long the log has grown.
          write(`event: log\ndata: ${JSON.stringify(await readLogFrom(layout, app, s.log.release, logSent, s.log.size))}\n\n`);
          logSent = s.log.size;
        }
        last = { webhooks: w, releases: r, logHead };
        if (Object.keys(sections).length) write(`event: sections\ndata: ${JSON.stringify(sections)}\n\n`);
      } catch {
        // the app's files are changing under us; the next tick sees them settled
      } finally {
        busy = false;
      }
    };
    void tick();
    const timer = setInterval(tick, 300);
    const stream = { res, stop: () => clearInterval(timer) };
    streams.add(stream);
    req.on('close', () => {
      stream.stop();
      streams.delete(stream);
    });
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const s of this.streams) {
      s.stop();
      s.res.end();
    }
    this.streams.clear();
  }
}
