// A commit status as each forge's API takes it, built as plain data (no I/O):
// - GitHub: POST {api}/repos/{owner}/{repo}/statuses/{sha}, `Authorization: Bearer`, JSON
//   {state: pending|success|failure|error, target_url, description, context}
//   (docs.github.com/rest/commits/statuses#create-a-commit-status).
// - Forgejo and Gitea: POST {api}/repos/{owner}/{repo}/statuses/{sha}, `Authorization: token`,
//   the same fields and states (their swagger: CreateStatusOption, CommitStatusState).
// - GitLab: POST {api}/projects/{id}/statuses/{sha}, `PRIVATE-TOKEN`, {state: pending|running|
//   success|failed|canceled, name, target_url, description} (docs.gitlab.com/api/commits,
//   "Set the pipeline status of a commit"); the project id may be its URL-encoded path.
// And FORGE_TOKEN's binding to a host: a token only ever goes where it was meant for.
import { readJson } from '../../releases/settings/files.js';
import { effectiveConfig } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';
import type { Forge } from './forge.js';

export type StatusState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  sha: string;
  state: StatusState;
  /** At most 140 characters (GitHub's limit; the others take it too). */
  description: string;
  /** `toes/<app>`. */
  context: string;
  targetUrl?: string;
}

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export const DESCRIPTION_MAX = 140;

export function clip(text: string, max = DESCRIPTION_MAX): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

const GITLAB_STATE: Record<StatusState, string> = { pending: 'running', success: 'success', failure: 'failed', error: 'failed' };

export function statusRequest(forge: Forge, s: CommitStatus, token: string): HttpRequest {
  const json = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'toes-rev' };
  const sha = encodeURIComponent(s.sha);
  const description = clip(s.description);
  const target = s.targetUrl ? { target_url: s.targetUrl } : {};
  if (forge.kind === 'gitlab') {
    return {
      url: `${forge.api}/projects/${encodeURIComponent(forge.repo)}/statuses/${sha}`,
      headers: { ...json, 'private-token': token },
      body: JSON.stringify({ state: GITLAB_STATE[s.state], name: s.context, description, ...target }),
    };
  }
  const [owner, repo] = forge.repo.split('/').map(encodeURIComponent);
  const headers: Record<string, string> =
    forge.kind === 'github'
      ? { ...json, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', authorization: `Bearer ${token}` }
      : { ...json, authorization: `token ${token}` };
  return { url: `${forge.api}/repos/${owner}/${repo}/statuses/${sha}`, headers, body: JSON.stringify({ state: s.state, context: s.context, description, ...target }) };
}

/** Where a global FORGE_TOKEN goes when no FORGE_TOKEN_HOST says otherwise. */
export const DEFAULT_FORGE_HOST = 'github.com';

function hostList(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean) : [];
}

/** The hosts a forge answers on: its API's and its web side's (a token for github.com is for api.github.com). */
function hostsOf(forge: Forge): string[] {
  return [new URL(forge.api).host.toLowerCase(), new URL(forge.web).host.toLowerCase()];
}

function hostOf(url: unknown): string | undefined {
  try {
    return typeof url === 'string' ? new URL(url).host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The FORGE_TOKEN that may go to this forge: the app's own goes to the hosts in its
 * FORGE_TOKEN_HOST, else to the host of the source or the `status.api` the user set (a
 * webhook alone, signed with a secret the sender holds too, cannot send it elsewhere); the
 * global one to the hosts in the global FORGE_TOKEN_HOST, else github.com alone.
 */
export async function forgeToken(layout: Layout, app: string, forge: Forge): Promise<string | undefined> {
  const [own, global, cfg] = await Promise.all([readJson(layout.appEnv(app)), readJson(layout.globalEnv), effectiveConfig(layout, app)]);
  const token = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const hosts = hostsOf(forge);
  if (token(own.FORGE_TOKEN)) {
    const named = hostList(own.FORGE_TOKEN_HOST);
    const allowed = named.length ? named : [hostOf(cfg.source), hostOf(cfg['status.api'])].filter((h): h is string => !!h);
    if (allowed.some((h) => hosts.includes(h))) return token(own.FORGE_TOKEN);
  }
  if (token(global.FORGE_TOKEN)) {
    const allowed = hostList(global.FORGE_TOKEN_HOST);
    if ((allowed.length ? allowed : [DEFAULT_FORGE_HOST]).some((h) => hosts.includes(h))) return token(global.FORGE_TOKEN);
  }
  return undefined;
}
