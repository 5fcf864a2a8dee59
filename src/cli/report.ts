// How a deploy's or a rollback's result reaches the user: notes and warnings, then one final
// line (or the failure's sentence, with the build's last lines when there are some), or the
// result as JSON (--json: one object; --progress json: the last line of the event lines).
import type { OpResult } from '../activate/result.js';
import { exitCodeOf } from '../errors.js';
import { printable } from '../printable.js';
import { printJson, printLine, shortId } from './common.js';
import type { ProgressMode } from './progress.js';

export function report(res: OpResult, json: boolean, mode: ProgressMode): void {
  if (mode === 'json') printLine({ event: 'result', ...res });
  else if (json) printJson(res);
  const people = mode !== 'json' && !json;
  if (people) {
    for (const n of res.notes ?? []) process.stderr.write(`toes: note: ${printable(n)}\n`);
    for (const w of res.warnings ?? []) process.stderr.write(`toes: warning: ${printable(w)}\n`);
  }
  if (!res.ok) {
    const { message, logTail, code } = res.error!;
    const tail = people && logTail ? logTail : undefined;
    process.stderr.write(`toes: ${printable(message)}\n`);
    if (tail) process.stderr.write(`--- last lines of the deploy log (${printable(res.log)}) ---\n${printable(tail, { lines: true }).replace(/\n?$/, '\n')}`);
    process.exitCode = exitCodeOf(code);
    return;
  }
  if (people) process.stdout.write(finalLine(res) + '\n');
}

function finalLine(res: OpResult): string {
  const app = res.app;
  const version = shortId(res.version);
  if (res.dryRun) {
    const what = res.unchanged ? 'is already live' : res.reused ? `would reuse release ${res.release}` : 'would be built as a new release';
    return `${app}: version ${version} ${what}; nothing was changed (--dry-run).`;
  }
  if (res.unchanged) {
    return res.op === 'deploy' ? `${app} is already live at ${version} (release ${res.release}); nothing to do.` : `${app} is already on release ${res.release}; nothing to do.`;
  }
  if (res.restarted === false) {
    // supervisor none: `current` moved, but whatever runs the app still runs the old code.
    return (
      `${app}: release ${res.release} (${version}) is in place, but the app was not restarted (supervisor none), so it may still run ${res.previous ? `release ${res.previous}` : 'the old code'}. ` +
      `Restart it yourself, or let toes do it: \`toes config set ${app} supervisor toes\` (with TOES_URL), \`command\` with \`restart "..."\`, or \`signal\` with \`pidfile\`.`
    );
  }
  if (res.op === 'rollback') return `${app} is live on release ${res.release} (${version}), was ${res.previous ?? 'nothing'}.`;
  return (
    `${app} is live: release ${res.release}, version ${version}${res.reused ? ' (reused, no build)' : ''} in ${(res.durationMs / 1000).toFixed(2)}s.` +
    (res.previous ? ` Undo with: toes rollback ${app}` : '')
  );
}
