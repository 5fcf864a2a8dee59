// Which forge an app's commits live on, and where its API is: told by the webhook that
// triggered the deploy (its format and repository.html_url), else by the `status.forge` and
// `status.api` settings, else by a source URL on a forge everyone knows (github.com,
// gitlab.com, codeberg.org). Pure but for `forgeOf`, which reads the settings.
import fs from 'node:fs/promises';
import path from 'node:path';
import { effectiveConfig } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';

export type ForgeKind = 'github' | 'forgejo' | 'gitea' | 'gitlab';

export interface Forge {
  kind: ForgeKind;
  /** The API base, without a trailing slash (https://api.github.com, https://host/api/v1). */
  api: string;
  /** The repository's web address (https://github.com/me/app). */
  web: string;
  /** owner/repo; for GitLab the project's whole path (group/subgroup/project). */
  repo: string;
}

/** A forge everyone knows, by its host. */
const KNOWN: Record<string, ForgeKind> = { 'github.com': 'github', 'gitlab.com': 'gitlab', 'codeberg.org': 'forgejo' };

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The web address and path of a repository URL (https, http, a `.git` clone URL), or undefined. */
function repoParts(url: string): { origin: string; path: string[] } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  const parts = u.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length) parts[parts.length - 1] = parts[parts.length - 1].replace(/\.git$/, '');
  if (parts.length < 2 || !parts.every((p) => NAME.test(p))) return undefined;
  return { origin: u.origin, path: parts };
}

/** The API base of a forge of this kind whose web side is at `origin` (plus a path prefix). */
export function defaultApi(kind: ForgeKind, origin: string): string {
  switch (kind) {
    case 'github':
      return new URL(origin).host === 'github.com' ? 'https://api.github.com' : `${origin}/api/v3`;
    case 'gitlab':
      return `${origin}/api/v4`;
    default:
      return `${origin}/api/v1`;
  }
}

/**
 * The forge of a repository web address, with what is known of it. GitLab projects may sit
 * in subgroups (the whole path is the project); the others are owner/repo, the last two
 * parts, anything before them being where the forge is mounted.
 */
export function forgeAt(kind: ForgeKind, url: string, api?: string): Forge | undefined {
  const p = repoParts(url);
  if (!p) return undefined;
  const keep = kind === 'gitlab' ? p.path : p.path.slice(-2);
  const mount = kind === 'gitlab' ? '' : p.path.slice(0, -2).map((s) => `/${s}`).join('');
  const origin = p.origin + mount;
  return { kind, api: (api ?? defaultApi(kind, origin)).replace(/\/+$/, ''), web: `${origin}/${keep.join('/')}`, repo: keep.join('/') };
}

/** What the webhook that triggered a deploy says: GitHub's or Gitea/Forgejo's format, and the repository's address. */
export function forgeFromWebhook(format: string | undefined, repoUrl: string | undefined): Forge | undefined {
  if (!repoUrl) return undefined;
  if (format === 'github') return forgeAt('github', repoUrl);
  if (format === 'gitea') return forgeAt('gitea', repoUrl);
  return undefined;
}

/** A source URL on a forge everyone knows. */
export function forgeFromSource(source: string | undefined): Forge | undefined {
  if (!source) return undefined;
  try {
    const kind = KNOWN[new URL(source).host.toLowerCase()];
    return kind ? forgeAt(kind, source) : undefined;
  } catch {
    return undefined;
  }
}

export type ForgeChoice = { forge: Forge; from: 'webhook' | 'settings' | 'source'; why?: undefined } | { forge?: undefined; why: string };

/**
 * The forge for an app's statuses. `status.forge` overrides what the webhook says (and
 * `none` turns statuses off); `status.api` moves the API of whatever forge is found.
 */
export function chooseForge(settings: { forge?: string; api?: string }, hint: { format?: string; repo?: string }, source: string | undefined): ForgeChoice {
  if (settings.forge === 'none') return { why: 'status.forge is none' };
  const seen = forgeFromWebhook(hint.format, hint.repo);
  const known = seen ? undefined : forgeFromSource(source);
  if (settings.forge) {
    const web = (seen ?? known)?.web ?? source;
    const f = web ? forgeAt(settings.forge as ForgeKind, web, settings.api) : undefined;
    return f ? { forge: f, from: 'settings' } : { why: `status.forge is ${settings.forge}, but the repository is not known: deploy from its URL or let its webhook tell it` };
  }
  const found = seen ?? known;
  if (found) return { forge: settings.api ? { ...found, api: settings.api.replace(/\/+$/, '') } : found, from: seen ? 'webhook' : 'source' };
  return { why: 'the forge is not known: its webhook did not tell, the source is not on github.com, gitlab.com or codeberg.org, and status.forge is not set' };
}

/** Where the last webhook said the app's repository is, with its format (rev/apps/<app>/forge.json). */
function rememberedFile(layout: Layout, app: string): string {
  return path.join(layout.appState(app), 'forge.json');
}

export async function remember(layout: Layout, app: string, format: string | undefined, repo: string | undefined): Promise<void> {
  const f = forgeFromWebhook(format, repo);
  if (!f) return;
  const file = rememberedFile(layout, app);
  const text = JSON.stringify({ kind: f.kind, web: f.web }) + '\n';
  if ((await fs.readFile(file, 'utf8').catch(() => '')) === text) return;
  // Informational: a lost write only means the next webhook tells it again.
  await fs.writeFile(file, text, { mode: 0o600 }).catch(() => {});
}

async function recalled(layout: Layout, app: string): Promise<{ kind?: string; web?: string }> {
  try {
    return JSON.parse(await fs.readFile(rememberedFile(layout, app), 'utf8'));
  } catch {
    return {};
  }
}

/** The app's forge, from everything known: the deploy's webhook, the settings, the last webhook, the source. */
export async function forgeOf(layout: Layout, app: string, hint: { format?: string; repo?: string; source?: string } = {}): Promise<ForgeChoice> {
  const [cfg, last] = await Promise.all([effectiveConfig(layout, app), recalled(layout, app)]);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const settings = { forge: str(cfg['status.forge']), api: str(cfg['status.api']) };
  const direct = hint.repo ? hint : last.web ? { format: last.kind === 'github' ? 'github' : 'gitea', repo: last.web } : {};
  return chooseForge(settings, direct, hint.source ?? str(cfg.source));
}

/** The commit's page on its forge. */
export function commitUrl(forge: Forge, sha: string): string {
  return forge.kind === 'gitlab' ? `${forge.web}/-/commit/${sha}` : `${forge.web}/commit/${sha}`;
}
