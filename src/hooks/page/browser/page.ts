// The app page's script: its actions (webhooks on/off, the token, Deploy Now, Rollback),
// each with its own notice, and the live stream that replaces sections as they change.
import { deployEnded, liveRelease } from './live.js';
import { notice, recheckNotice } from './notice.js';

interface ActionAnswer {
  ok: boolean;
  message?: string;
  status: number;
}

const main = document.querySelector<HTMLElement>('main[data-app]');
if (main) start(main.getAttribute('data-app') ?? '');

function start(app: string): void {
  const base = '/apps/' + encodeURIComponent(app);
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T | null;

  async function post(path: string, body: object): Promise<ActionAnswer> {
    try {
      const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-toes-page': '1' }, body: JSON.stringify(body) });
      const value = (await r.json().catch(() => ({ ok: false, message: `HTTP ${r.status}` }))) as { ok?: boolean; message?: string };
      return { ok: !!value.ok, message: value.message, status: r.status };
    } catch {
      return { ok: false, message: 'The daemon did not answer; is toes serve running?', status: 0 };
    }
  }

  /** An action whose notice lasts the default time. */
  async function act(path: string, body: object): Promise<ActionAnswer> {
    const res = await post(path, body);
    notice(res.message || (res.ok ? 'Done.' : 'Failed.'), res.ok);
    return res;
  }

  async function copy(text: string): Promise<void> {
    if (navigator.clipboard?.writeText) return navigator.clipboard.writeText(text);
    byId<HTMLInputElement>('hook-url')?.select();
    document.execCommand('copy');
  }

  function bind(): void {
    const toggle = byId<HTMLInputElement>('hook-toggle');
    if (toggle) toggle.onchange = () => void act('/webhook', { enabled: toggle.checked });
    const copyBtn = byId<HTMLButtonElement>('copy-url');
    if (copyBtn)
      copyBtn.onclick = async () => {
        await copy(byId<HTMLInputElement>('hook-url')?.value ?? '');
        notice('URL copied', true);
        copyBtn.textContent = 'Copied';
        // The button says what just happened, then what it does again.
        setTimeout(() => (copyBtn.textContent = 'Copy'), 2000);
      };
    const form = byId<HTMLFormElement>('token-form');
    if (form)
      form.onsubmit = async (e) => {
        e.preventDefault();
        const input = byId<HTMLInputElement>('token');
        const res = await act('/token', { token: input?.value ?? '' });
        if (res.ok && input) input.value = '';
      };
    const clear = byId<HTMLButtonElement>('token-clear');
    if (clear) clear.onclick = () => void act('/token', { clear: true });
    const deploy = byId<HTMLButtonElement>('deploy-now');
    if (deploy)
      deploy.onclick = async () => {
        const until = deployEnded();
        const res = await post('/deploy', {});
        // "Deploying" and "already running" are both about the deploy under way: they end with it.
        notice(res.message || 'Failed.', res.ok, res.ok || res.status === 409 ? until : undefined);
      };
    for (const b of document.querySelectorAll<HTMLButtonElement>('button.rollback')) {
      b.onclick = async () => {
        const release = b.getAttribute('data-release') ?? '';
        b.disabled = true;
        const res = await post('/rollback', { release });
        b.disabled = false;
        // "live at X again" is true while X is live.
        notice(res.message || (res.ok ? 'Done.' : 'Failed.'), res.ok, res.ok ? () => liveRelease() !== release : undefined);
      };
    }
  }

  function ago(iso: string): string {
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!Number.isFinite(s)) return '';
    if (s < 45) return 'just now';
    let n = Math.round(s / 60);
    let unit = 'minute';
    for (const [size, name] of [[60, 'minute'], [3600, 'hour'], [86400, 'day']] as const) if (s >= size * 0.75) ((n = Math.round(s / size)), (unit = name));
    return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  }
  setInterval(() => {
    for (const t of document.querySelectorAll('time[datetime]')) t.textContent = ago(t.getAttribute('datetime') ?? '');
  }, 30000);

  // Live updates: changed sections arrive as HTML, log text as it is written. EventSource
  // reconnects by itself when the daemon restarts.
  const link = byId('link-state');
  const events = new EventSource(base + '/events');
  events.onopen = () => {
    if (link) ((link.textContent = 'live'), (link.className = 'muted live'));
  };
  // A stream refused (the login ended) is closed for good; a dropped one reconnects.
  events.onerror = () => {
    if (!link) return;
    link.textContent = events.readyState === EventSource.CLOSED ? 'not live: reload the page' : 'reconnecting…';
    link.className = 'muted down';
  };
  events.addEventListener('sections', (e) => {
    const parts = JSON.parse((e as MessageEvent<string>).data) as Record<string, string>;
    for (const [id, text] of Object.entries(parts)) {
      const el = document.getElementById(id);
      if (el) el.outerHTML = text;
    }
    bind();
    recheckNotice();
  });
  events.addEventListener('log', (e) => {
    const pre = byId('log-text');
    if (!pre) return;
    pre.textContent += JSON.parse((e as MessageEvent<string>).data) as string;
    pre.scrollTop = pre.scrollHeight;
  });
  bind();
}
