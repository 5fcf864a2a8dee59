// What the receiver knows about each app (webhooks on or off, the secret, the branch it
// follows), read from the state the CLI writes and kept in memory. A chokidar watch on
// that state drops an app's entry when `toes webhook`, `toes config` or a deploy changes
// it, so the daemon follows the CLI without a restart.
import { followedBranch, fullRef, liveRecord } from '../../releases/followed-branch.js';
import { readLog } from '../../releases/log.js';
import { appSettings } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';
import type { AppHooks } from './receiver.js';
import { readWebhook } from './webhook-state.js';

/** Files under rev/apps/<app>/ whose change matters to the receiver. */
const WATCHED = new Set(['webhook.json', 'config.json', 'releases.jsonl']);

/** How long a cached app's webhook state is trusted without a watch event (a few reads a second at most). */
const MAX_AGE_MS = 2_000;

export class AppHooksCache {
  private cache = new Map<string, Promise<AppHooks | undefined>>();
  /** When each entry was read: an entry older than MAX_AGE_MS is read again. */
  private readAt = new Map<string, number>();
  private watcher?: { close(): Promise<void> };
  private poll?: NodeJS.Timeout;

  /** `onRelay` is told when the relay setting, this server's relay identity or an app's settings change. */
  constructor(
    private layout: Layout,
    private onRelay: () => void = () => {},
  ) {}

  lookup(app: string): Promise<AppHooks | undefined> {
    let p = this.cache.get(app);
    // The watch is the fast path; the age is the safety net for an event a runtime's file
    // watcher lost (seen under Bun when a file is replaced twice in quick succession).
    if (p && Date.now() - (this.readAt.get(app) ?? 0) > MAX_AGE_MS) p = undefined;
    if (!p) {
      p = this.load(app);
      // Only apps with webhooks are kept: a flood of made-up names must not grow memory.
      const mine = p;
      const forget = () => {
        if (this.cache.get(app) !== mine) return;
        this.cache.delete(app);
        this.readAt.delete(app);
      };
      p.then((v) => (v ? undefined : forget()), forget);
      this.cache.set(app, p);
      this.readAt.set(app, Date.now());
    }
    return p;
  }

  private async load(app: string): Promise<AppHooks | undefined> {
    const hook = await readWebhook(this.layout, app);
    if (!hook) return undefined;
    const [settings, releases] = await Promise.all([appSettings(this.layout, app), readLog(this.layout.releaseLog(app))]);
    const branch = followedBranch(settings, liveRecord(releases));
    return { enabled: hook.enabled, secret: hook.secret, branch: branch ? fullRef(branch) : undefined };
  }

  invalidate(app?: string): void {
    if (app) {
      this.cache.delete(app);
      this.readAt.delete(app);
    } else {
      this.cache.clear();
      this.readAt.clear();
    }
  }

  /** Starts following changes; resolves once the watch is in place. */
  async watch(): Promise<void> {
    const { watch } = await import('chokidar');
    const layout = this.layout;
    const ignored = (p: string) => {
      const f = layout.stateFileOf(p);
      if (p === layout.revDir) return false;
      switch (f.scope) {
        case 'global':
          return f.name !== 'config.json' && f.name !== 'apps' && f.name !== 'hooks';
        case 'hooks':
          return f.name !== 'instance.json';
        case 'app':
          return f.name !== undefined && !WATCHED.has(f.name);
        default:
          return true;
      }
    };
    const w = watch(layout.revDir, { ignoreInitial: true, depth: 2, ignored });
    const changed = (p: string) => {
      const f = layout.stateFileOf(p);
      if (f.scope === 'global' && f.name === 'config.json') {
        this.invalidate();
        this.onRelay();
      } else if (f.scope === 'hooks' || (f.scope === 'global' && f.name === 'hooks')) this.onRelay();
      else if (f.scope === 'app') {
        this.invalidate(f.app);
        this.onRelay(); // the relay is told which apps take webhooks
      }
    };
    w.on('add', changed).on('change', changed).on('unlink', changed).on('unlinkDir', changed);
    // Out of inotify watches, say: forget everything every 2 s instead of following changes.
    w.on('error', () => {
      this.invalidate();
      this.poll ??= setInterval(() => this.invalidate(), 2_000);
      this.poll.unref();
    });
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    this.watcher = w;
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    await this.watcher?.close();
  }
}
