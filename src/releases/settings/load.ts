// Where an app's settings and environment are kept, and what the engine reads: per app over
// global, then toes-rev's own defaults (schema.ts).
import type { Layout } from '../paths.js';
import { readJson, type Settings } from './files.js';
import { resolveSettings, type AppSettings } from './schema.js';

export type Scope = { global: true } | { global: false; app: string };

export function configFile(layout: Layout, scope: Scope): string {
  return scope.global ? layout.globalConfig : layout.appConfig(scope.app);
}
export function envFile(layout: Layout, scope: Scope): string {
  return scope.global ? layout.globalEnv : layout.appEnv(scope.app);
}

/**
 * Waits for all: small reads at once cost one round trip instead of one each. When some
 * fail, the first failure in the order given is thrown, as if they had run in turn.
 */
async function allInOrder<T>(work: Promise<T>[]): Promise<T[]> {
  return (await Promise.allSettled(work)).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

/** JSON files merged, later over earlier. */
async function readMerged(files: string[]): Promise<Settings> {
  return (await allInOrder(files.map(readJson))).reduce((merged, v) => ({ ...merged, ...v }), {});
}

/** Per-app values over global ones, as stored (for `toes config`, which shows what was set). */
export async function effectiveConfig(layout: Layout, app: string): Promise<Settings> {
  return readMerged([layout.globalConfig, layout.appConfig(app)]);
}

/** The app's settings as the engine uses them: per app over global over defaults. */
export async function appSettings(layout: Layout, app: string): Promise<AppSettings> {
  return resolveSettings(await effectiveConfig(layout, app));
}

/** The global settings with defaults applied (relay, webhook.url). */
export async function globalSettings(layout: Layout): Promise<AppSettings> {
  return resolveSettings(await readJson(layout.globalConfig));
}
export async function effectiveEnv(layout: Layout, app: string): Promise<Record<string, string>> {
  const merged = await readMerged([layout.globalEnv, layout.appEnv(app)]);
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)]));
}

/** What a deploy or a rollback starts from: the app's settings and its environment. */
export async function settingsAndEnv(layout: Layout, app: string): Promise<{ settings: AppSettings; env: Record<string, string> }> {
  const [settings, env] = await allInOrder<unknown>([appSettings(layout, app), effectiveEnv(layout, app)]);
  return { settings: settings as AppSettings, env: env as Record<string, string> };
}
