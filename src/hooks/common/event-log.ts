// The daemon's log: one line per event, as text (`<time> <event> key=value ...`) or as
// JSON lines with --json. Lines are gathered and written once per turn of the event loop,
// so a burst of webhooks does not cost a write each. Callers never pass a secret here.
import { printableJson } from '../../printable.js';

export type LogFields = Record<string, string | number | boolean | undefined>;
export type EventLog = (event: string, fields?: LogFields) => void;

function text(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w./:@+,-]*$/.test(s) && s !== '' ? s : printableJson(s);
}

export function eventLog(out: NodeJS.WritableStream, json: boolean, now: () => Date = () => new Date()): EventLog & { flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending) out.write(pending);
    pending = '';
  };
  const log = (event: string, fields: LogFields = {}) => {
    const at = now().toISOString();
    const defined = Object.entries(fields).filter(([, v]) => v !== undefined) as [string, string | number | boolean][];
    pending += json
      ? printableJson({ at, event, ...Object.fromEntries(defined) }) + '\n'
      : `${at} ${event}${defined.map(([k, v]) => ` ${k}=${text(v)}`).join('')}\n`;
    if (pending.length > 64 * 1024) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return Object.assign(log, { flush });
}
