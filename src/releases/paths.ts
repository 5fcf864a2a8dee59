// Every location toes-rev reads or writes, derived from the data root in one place.
import os from 'node:os';
import path from 'node:path';
import { RevError } from '../errors.js';
import { printable } from '../printable.js';

export interface Roots {
  dataDir: string;
  appsDir: string;
  toesDir: string;
  toesUrl?: string;
}

/** Resolves Toes' variables (flags win over the environment); falls back to ~/.toes. */
export function resolveRoots(
  flags: Partial<Roots> = {},
  env: NodeJS.ProcessEnv = process.env,
): Roots & { defaulted: boolean } {
  const explicit = flags.dataDir ?? env.DATA_DIR;
  const dataDir = path.resolve(explicit ?? path.join(os.homedir(), '.toes'));
  return {
    dataDir,
    appsDir: path.resolve(flags.appsDir ?? env.APPS_DIR ?? path.join(dataDir, 'apps')),
    toesDir: path.resolve(flags.toesDir ?? env.TOES_DIR ?? path.join(dataDir, 'toes')),
    toesUrl: flags.toesUrl ?? env.TOES_URL,
    defaulted: explicit === undefined && !flags.appsDir && !env.APPS_DIR,
  };
}

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isAppName(app: string): boolean {
  return APP_NAME.test(app) && !app.includes('..');
}

export function checkAppName(app: string): string {
  if (!isAppName(app)) {
    throw new RevError('USAGE', `"${printable(app, { max: 100 })}" is not a valid app name; use letters, digits, ".", "_" and "-" only.`, { data: { app } });
  }
  return app;
}

/** A release directory name as Toes makes them: YYYYMMDD-HHMMSS, with -N on a clash. */
export const RELEASE_DIR = /^\d{8}-\d{6}(-\d+)?$/;

/**
 * Names toes-rev makes beside `current` for a moment: a release being built, a pruned
 * release waiting to be deleted, a new symlink about to be renamed over `current`.
 */
const STAGING = '.staging-';
const TRASH = '.trash-';
const NEXT_LINK = '.current-';

/** Leftovers of an interrupted deploy in an app directory: removed on recovery. */
export function isInterruptedName(name: string): boolean {
  return name.startsWith(STAGING) || name.startsWith(NEXT_LINK);
}

/** A new symlink made beside `link` (a `current`), then renamed over it. */
export function nextLinkFor(link: string, suffix: string): string {
  return path.join(path.dirname(link), `${NEXT_LINK}${suffix}`);
}

export function isTrashName(name: string): boolean {
  return name.startsWith(TRASH);
}

/** What a file under `rev/` is, for a watcher that follows the state the CLI writes. */
export type StateFile =
  | { scope: 'global'; name: string }
  | { scope: 'hooks'; name: string }
  | { scope: 'app'; app: string; name?: string }
  | { scope: 'other' };

export class Layout {
  readonly revDir: string;
  constructor(readonly roots: Roots) {
    this.revDir = path.join(roots.dataDir, 'rev');
  }
  get storeRoot(): string {
    return path.join(this.revDir, 'store');
  }
  get blobsRoot(): string {
    return path.join(this.revDir, 'store', 'blobs');
  }
  /** One note per deploy between its fetch and its last link to a blob (store-access.ts). */
  get storeUsersDir(): string {
    return path.join(this.revDir, 'store', 'users');
  }
  /** Held by the garbage collector while it deletes blobs, never while a store user is live. */
  get storeGcLock(): string {
    return path.join(this.revDir, 'store', 'gc.lock');
  }
  /** Scratch space for one app's fetches; emptied under the app's lock. */
  tmpDir(app: string): string {
    return path.join(this.revDir, 'tmp', checkAppName(app));
  }
  get globalConfig(): string {
    return path.join(this.revDir, 'config.json');
  }
  get globalEnv(): string {
    return path.join(this.revDir, 'env.json');
  }
  appDir(app: string): string {
    return path.join(this.roots.appsDir, checkAppName(app));
  }
  currentLink(app: string): string {
    return path.join(this.appDir(app), 'current');
  }
  releaseDir(app: string, id: string): string {
    return path.join(this.appDir(app), id);
  }
  /** A release being built, beside the releases so sealing it is a rename. */
  stagingDir(app: string, id: string): string {
    return path.join(this.appDir(app), `${STAGING}${id}`);
  }
  /** A pruned release moved aside, deleted off the critical path of the next deploy. */
  trashDir(app: string, id: string): string {
    return path.join(this.appDir(app), `${TRASH}${id}`);
  }
  /** toes-rev's state of every app, one folder each. */
  get appsStateRoot(): string {
    return path.join(this.revDir, 'apps');
  }
  appState(app: string): string {
    return path.join(this.appsStateRoot, checkAppName(app));
  }
  /** Present while a deploy's background collection of what its prune freed runs (its pid). */
  collectorNote(app: string): string {
    return path.join(this.appState(app), 'collecting.json');
  }
  /** Written before a swap, removed after the health check: lets a later command finish a killed activation. */
  activationFile(app: string): string {
    return path.join(this.appState(app), 'activation.json');
  }
  releaseLog(app: string): string {
    return path.join(this.appState(app), 'releases.jsonl');
  }
  deployLog(app: string, id: string): string {
    return path.join(this.appState(app), 'logs', `${id}.log`);
  }
  lockDir(app: string): string {
    return path.join(this.appState(app), 'lock');
  }
  /** The process group of a running install or predeploy. */
  buildPgid(app: string): string {
    return path.join(this.appState(app), 'build.pgid');
  }
  /** The app's webhook signing secret and whether deliveries are accepted (mode 0600). */
  webhookFile(app: string): string {
    return path.join(this.appState(app), 'webhook.json');
  }
  /** The last webhook deliveries and what became of them. */
  deliveriesFile(app: string): string {
    return path.join(this.appState(app), 'deliveries.jsonl');
  }
  /** State of `toes serve`: its durable deploy queue, its lock, where it listens. */
  get hooksDir(): string {
    return path.join(this.revDir, 'hooks');
  }
  get queueFile(): string {
    return path.join(this.hooksDir, 'queue.jsonl');
  }
  get serveLock(): string {
    return path.join(this.hooksDir, 'serve.lock');
  }
  get serveFile(): string {
    return path.join(this.hooksDir, 'serve.json');
  }
  /** This server's identity on the relay: its id and secret (mode 0600). */
  get instanceFile(): string {
    return path.join(this.hooksDir, 'instance.json');
  }
  /** The settings page's login links and sessions, only their SHA-256 hashes (mode 0600). */
  get pageLoginFile(): string {
    return path.join(this.hooksDir, 'page-login.json');
  }
  /** The state of the relay link, written by `toes serve` for `toes webhook status`. */
  get relayLinkFile(): string {
    return path.join(this.hooksDir, 'relay-link.json');
  }
  /**
   * Where `abs` sits in the state under `rev/`: a global file (`config.json`), a file of
   * `hooks/`, an app's folder or a file directly in it, or something else (`other`).
   */
  stateFileOf(abs: string): StateFile {
    const parts = path.relative(this.revDir, abs).split(path.sep);
    if (parts[0] === '' || parts[0] === '..') return { scope: 'other' };
    if (parts.length === 1) return { scope: 'global', name: parts[0] };
    if (parts[0] === 'hooks' && parts.length === 2) return { scope: 'hooks', name: parts[1] };
    if (parts[0] === 'apps' && isAppName(parts[1])) {
      if (parts.length === 2) return { scope: 'app', app: parts[1] };
      if (parts.length === 3) return { scope: 'app', app: parts[1], name: parts[2] };
    }
    return { scope: 'other' };
  }
  appConfig(app: string): string {
    return path.join(this.appState(app), 'config.json');
  }
  appEnv(app: string): string {
    return path.join(this.appState(app), 'env.json');
  }
}
