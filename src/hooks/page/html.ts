// Server-rendered HTML with Hono's `html`: tagged templates that escape every value
// unless it is already markup. All the page needs is here and in browser/ (served by the
// daemon, see assets.ts); nothing is loaded from elsewhere, so it works inside the Toes
// dashboard with no outside network.
import { html as honoHtml } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { printable } from '../../printable.js';
import { assetUrl, type AssetName } from './assets.js';
/** Markup: Hono's escaped string, inserted into other markup as is. */
export type Html = HtmlEscapedString;

type Part = Html | string | number | boolean | null | undefined | Part[];

/**
 * Hono's `html`, typed for what the page renders: every value is known when it is
 * rendered (no promise), so the result is markup, never a promise of it.
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  return honoHtml(strings, ...values.map(visible)) as Html;
}

/** Text from outside with its controls escaped too (bidi overrides reorder what a page shows); markup is left as it is. */
function visible(v: Part): Part {
  if (typeof v === 'string') return printable(v, { lines: true });
  return Array.isArray(v) ? v.map(visible) : v;
}

export function page(title: string, body: Html, script: AssetName = 'page.js'): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${assetUrl('page.css')}">
<script src="${assetUrl(script)}" defer></script>
</head>
<body>
${body}
</body>
</html>
`.toString();
}

/** "3 minutes ago", the way the page shows times (the exact one goes in a title). */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 45) return 'just now';
  const units: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
  ];
  let n = Math.round(s / 60);
  let unit = 'minute';
  for (const [size, name] of units) if (s >= size * 0.75) ((n = Math.round(s / size)), (unit = name));
  return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
}

export function when(iso: string | null | undefined): Html {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}" title="${iso}">${ago(iso)}</time> <span class="exact">(${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})</span>`;
}
