// The pages: the list of apps, and one page per app whose "Rev Webhooks" and "Releases"
// sections are also sent alone (as fragments) when the page's live stream says they changed.
import { html, page, when, type Html } from './html.js';
import type { AppPageState } from './state.js';

/** A commit as its first 10 hex digits (the whole in the title); any other version whole, never cut mid-word. */
function version(v?: string | null, href?: string): Html {
  if (!v) return html`-`;
  const code = /^[0-9a-f]{40,64}$/.test(v) ? html`<code title="${v}">${v.slice(0, 10)}</code>` : html`<code>${v}</code>`;
  const to = webUrl(href);
  return to ? html`<a href="${to}" target="_blank" rel="noopener">${code}</a>` : code;
}

/**
 * A forge's address as a link target, only when it is a web page with no credentials in it:
 * it comes from settings or a webhook, and a `javascript:` or `data:` one must never be clickable.
 */
function webUrl(u?: string): string | undefined {
  if (!u) return undefined;
  try {
    const p = new URL(u);
    return (p.protocol === 'https:' || p.protocol === 'http:') && !p.username && !p.password ? p.href : undefined;
  } catch {
    return undefined;
  }
}

/** The first sentence of an error (they are one sentence by rule; a log tail is not). */
const firstLine = (text: string) => text.split('\n')[0].slice(0, 400);

export function indexPage(apps: { app: string; live?: string; version?: string; status?: string; at?: string; webhooks: boolean }[]): string {
  return page(
    'Rev — apps',
    html`<main>
<h1>Apps</h1>
${
  apps.length
    ? html`<table class="apps"><thead><tr><th>App</th><th>Live</th><th>Last deploy</th><th>Webhooks</th></tr></thead><tbody>
${apps.map(
  (a) => html`<tr data-app="${a.app}"><td><a href="/apps/${encodeURIComponent(a.app)}">${a.app}</a></td><td data-label="Live">${a.live ? html`${a.live} ${version(a.version)}` : html`<span class="muted">none</span>`}</td><td data-label="Last deploy">${a.status ? html`<span class="status s-${a.status}">${a.status}</span> ${when(a.at)}` : html`<span class="muted">never</span>`}</td><td data-label="Webhooks">${a.webhooks ? 'on' : 'off'}</td></tr>`,
)}
</tbody></table>`
    : html`<p class="muted">No apps yet. Deploy one with <code>toes deploy my-app --from URL</code>.</p>`
}
</main>`,
  );
}

/** Refused deliveries the sender's owner must act on; through a relay the sender saw 202. */
function refusedLine(s: AppPageState): Html | '' {
  const r = s.hook.refused;
  if (!r) return '';
  return html`<p id="refused" class="refused">${r.count} deliver${r.count === 1 ? 'y' : 'ies'} refused in the last hour: ${r.reason}.</p>`;
}

function lastDeploy(s: AppPageState): Html {
  const d = s.hook.lastDeploy;
  if (!d) return html`<span class="muted">none yet</span>`;
  const log = html`<a href="/apps/${encodeURIComponent(s.app)}/logs/${encodeURIComponent(d.release)}" target="_blank" rel="noopener">log</a>`;
  return html`<span class="status s-${d.status}">${d.status}</span> ${d.release} ${when(d.at)}${d.status === 'failed' ? html`<br><span class="reason">${firstLine(d.error ?? 'the deploy failed')}</span> (${log})` : ''}${forgeLine(s, d.release)}`;
}

/** Where the shown deploy's commit status went and how that ended, or why none was sent. */
function forgeLine(s: AppPageState, release: string): Html | '' {
  const n = s.notice;
  // A notice about another deploy (the shown one is still running, or was not recorded) would mislead.
  if (!n || (n.release && n.release !== release)) return '';
  if (!n.target) return n.why ? html`<br><span id="forge-status" class="muted">no status sent: ${firstLine(n.why)}</span>` : '';
  const to = webUrl(n.commitUrl);
  const where = to ? html`<a href="${to}" target="_blank" rel="noopener">${n.target}</a>` : html`${n.target}`;
  const o = n.outcome;
  const how = !o || o.outcome === 'waiting'
    ? html`status to ${where}: waiting to be sent`
    : o.outcome === 'sent'
      ? html`status sent to ${where}: ${o.what}`
      : o.outcome === 'retrying'
        ? html`status to ${where}: ${o.what}, not sent yet (${firstLine(o.reason ?? 'no answer')}); trying again`
        : html`status to ${where}: ${o.what}, not sent: ${firstLine(o.reason ?? 'it was given up')}`;
  return html`<br><span id="forge-status" class="forge-${o?.outcome ?? 'waiting'}">${how}</span>`;
}

export function webhookSection(s: AppPageState): Html {
  const h = s.hook;
  return html`<section id="webhooks" data-section="webhooks" data-deploying="${s.deploying ? '1' : '0'}">
<h2>Rev Webhooks</h2>
<div class="row"><label class="switch"><input type="checkbox" id="hook-toggle" ${h.enabled ? 'checked' : ''}> <span>Deploy on every push</span></label> <span id="hook-state" class="status ${h.enabled ? 's-live' : 's-off'}">${h.enabled ? 'enabled' : 'disabled'}</span></div>
${
  h.enabled
    ? html`<div class="row"><label for="hook-url">Webhook URL</label><input id="hook-url" readonly value="${h.url}"> <button id="copy-url" type="button">Copy</button></div>
<p class="hint">Paste it into rev.host (or GitHub / Forgejo, content type application/json). The signing secret is printed by <code>toes webhook enable ${s.app}</code>; it is never shown here.${h.local ? ' This URL only reaches this machine.' : ''}</p>`
    : html`<p class="hint">Turn on to get the URL to paste into rev.host.</p>`
}
${refusedLine(s)}
${h.relay ? html`<p class="relay">Relay ${h.relay.url}: <span id="relay-state">${h.relay.connected ? 'connected' : 'not connected'}</span>, ${h.relay.pending} waiting there.</p>` : ''}
<form id="token-form" class="row" autocomplete="off"><label for="token">rev.host token</label><input id="token" name="token" type="password" placeholder="${s.token ? 'paste a new token to replace it' : 'not set'}" autocomplete="new-password"> <button type="submit">Save</button> ${s.token ? html`<button id="token-clear" type="button">Clear</button>` : ''} <span id="token-tail" class="mono">${s.token ?? ''}</span></form>
<div class="row"><label>Last deploy</label><span id="last-deploy">${lastDeploy(s)}</span></div>
<div class="row"><button id="deploy-now" type="button" class="primary">Deploy Now</button> <span id="deploy-state">${s.deploying ? 'a deploy is running…' : ''}</span></div>
</section>`;
}

export function releasesSection(s: AppPageState): Html {
  const good = (st: string) => st === 'live' || st === 'previous' || st === 'rolled-back';
  // Between a swap and its record the log lags `current` for a moment: say what is happening.
  const shown = (r: AppPageState['releases'][number]) => (r.live && r.status === 'building' ? 'activating' : !r.live && r.status === 'live' ? 'previous' : r.status);
  return html`<section id="releases" data-section="releases">
<h2>Releases</h2>
${
  s.releases.length
    ? html`<table class="releases"><thead><tr><th></th><th>Release</th><th>Version</th><th>When</th><th>Status</th><th></th></tr></thead><tbody>
${[...s.releases].reverse().map(
  (r) => html`<tr data-release="${r.id}" class="${r.live ? 'live' : ''}"><td>${r.live ? html`<span class="live-mark" title="live">●</span>` : ''}</td><td data-label="Release">${r.id}</td><td data-label="Version">${version(r.commit ?? r.version, s.commitUrls[r.id])}</td><td data-label="When">${when(r.createdAt)}</td><td data-label="Status"><span class="status s-${shown(r)}">${shown(r)}${r.pruned ? ' (pruned)' : ''}</span></td><td>${!r.live && !r.pruned && good(shown(r)) ? html`<button class="rollback" data-release="${r.id}" type="button">Rollback</button>` : ''}</td></tr>`,
)}
</tbody></table>`
    : html`<p class="muted">No releases yet.</p>`
}
</section>`;
}

export function logSection(s: AppPageState): Html {
  return html`<section id="log" data-section="log">
<h2>Deploy log ${s.log ? html`<span class="muted">${s.log.release}${s.log.running ? ' (running)' : ''}</span>` : ''}</h2>
<pre id="log-text">${s.log?.text ?? ''}</pre>
</section>`;
}

export function appPage(s: AppPageState): string {
  return page(
    `Rev — ${s.app}`,
    html`<main data-app="${s.app}">
<p class="crumbs"><a href="/">Apps</a> / <strong>${s.app}</strong> <span id="link-state" class="muted"></span></p>
<div id="notice" role="status"></div>
${webhookSection(s)}
${releasesSection(s)}
${logSection(s)}
</main>`,
  );
}

export function errorPage(status: number, message: string): string {
  return page(`Rev — ${status}`, html`<main><p class="crumbs"><a href="/">Apps</a></p><h1>${status}</h1><p>${message}</p></main>`);
}

/**
 * What a browser without a session sees, on whatever page it asked for: how to get a
 * link, and a field to paste one (the way in from a frame). Nothing about the apps.
 */
export function loginPage(): string {
  return page(
    'Rev — log in',
    html`<main class="login">
<h1>Log in</h1>
<p>This page deploys and rolls back apps on this server, so it needs a login. On the server, run <code>toes page</code> and open the link it prints in this browser, or paste the link here.</p>
<form id="login-form" class="row" autocomplete="off"><input id="login-link" type="password" placeholder="login link" autocomplete="off" aria-label="login link"> <button type="submit" class="primary">Log in</button></form>
<div id="notice" role="status"></div>
<p class="hint in-frame">Shown inside the Toes dashboard? The login works here when the dashboard and this page use the same host name; otherwise <a href="/" target="_blank" rel="noopener">open the page in its own tab</a>.</p>
</main>`,
    'login.js',
  );
}
