// Deciding how to restart an app, as plain data (no I/O): which adapter, and for the
// command adapter the exact argument array. Templates are split into words first and the
// placeholders filled in per word, so a value can never become a second word or a shell
// construct.
import { RevError } from '../../errors.js';
import type { AppSettings, SupervisorKind } from '../../releases/settings/schema.js';

export type RestartPlan =
  | { kind: 'toes'; url: string }
  | { kind: 'command'; file: string; args: string[] }
  | { kind: 'signal'; pidfile: string; signal: NodeJS.Signals }
  | { kind: 'none' };

export interface PlanInput {
  app: string;
  release: string;
  /** The release directory (absolute). */
  releaseDir: string;
  toesUrl?: string;
  settings: AppSettings;
}

/** Splits a command template into words: whitespace separates, quotes group, nothing else is special. */
export function splitWords(template: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let any = false;
  for (const ch of template) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur || any) words.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (quote) throw new RevError('BAD_CONFIG', `The restart command has an unclosed ${quote} quote; fix it with \`toes config set <app> restart "..."\`.`);
  if (cur || any) words.push(cur);
  return words;
}

export function fillTemplate(template: string, values: Record<string, string>): string[] {
  const words = splitWords(template).map((w) => w.replace(/\{(app|release|port)\}/g, (_, k: string) => values[k] ?? ''));
  if (words.length === 0 || !words[0]) throw new RevError('BAD_CONFIG', 'The restart command is empty; set one with `toes config set <app> restart "systemctl --user restart {app}"`.');
  return words;
}

const SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGKILL', 'SIGCONT']);

export function supervisorKind(settings: AppSettings, toesUrl?: string): SupervisorKind {
  return settings.supervisor ?? (toesUrl ? 'toes' : 'none');
}

export function restartPlan(p: PlanInput): RestartPlan {
  const kind = supervisorKind(p.settings, p.toesUrl);
  switch (kind) {
    case 'toes':
      if (!p.toesUrl) throw new RevError('BAD_CONFIG', 'The toes supervisor needs TOES_URL (or --toes-url); set it, or choose another with `toes config set <app> supervisor none`.');
      return { kind, url: `${p.toesUrl.replace(/\/+$/, '')}/api/apps/${encodeURIComponent(p.app)}/restart` };
    case 'command': {
      if (!p.settings.restart) throw new RevError('BAD_CONFIG', 'The command supervisor needs a command: `toes config set <app> restart "pm2 reload {app}"`.');
      // {port} is the port Toes gives the app; toes-rev has no setting of its own for it.
      const port = process.env.PORT ?? '';
      const [file, ...args] = fillTemplate(p.settings.restart, { app: p.app, release: p.releaseDir, port });
      return { kind, file, args };
    }
    case 'signal': {
      if (!p.settings.pidfile) throw new RevError('BAD_CONFIG', 'The signal supervisor needs a pidfile: `toes config set <app> pidfile /run/my-app.pid`.');
      const sig = p.settings.signal.toUpperCase();
      const signal = (sig.startsWith('SIG') ? sig : `SIG${sig}`) as NodeJS.Signals;
      if (!SIGNALS.has(signal)) throw new RevError('BAD_CONFIG', `${sig} is not a signal toes-rev sends; use SIGHUP, SIGUSR1, SIGUSR2 or SIGTERM.`);
      return { kind, pidfile: p.settings.pidfile, signal };
    }
    default:
      return { kind: 'none' };
  }
}

export function describePlan(plan: RestartPlan): string {
  switch (plan.kind) {
    case 'toes':
      return `toes (POST ${plan.url})`;
    case 'command':
      return `command (${[plan.file, ...plan.args].join(' ')})`;
    case 'signal':
      return `signal (${plan.signal} to the pid in ${plan.pidfile})`;
    default:
      return 'none';
  }
}
