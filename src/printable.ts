// One way to print text that came from outside (a repository, a webhook, a command line):
// control characters could rewrite the user's terminal (an ESC sequence, a BEL, a carriage
// return over a line) or reorder what it shows (bidi overrides and isolates), so they are
// escaped wherever such text reaches a terminal, a log or the page. A shared leaf: every
// layer prints names, and this imports nothing.

/** C0, DEL, C1, the line and paragraph separators, bidi embeddings/overrides and isolates. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw of the above (it escapes C0 itself). */
const JSON_RAW = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const hex = (ch: string) => {
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * `text` safe to print: each control character becomes `\xNN` or `\uNNNN`. Escaped text
 * has no control left, so escaping twice changes nothing. `lines` keeps newlines and tabs
 * (a log tail); `max` cuts a very long name, saying how long it was.
 */
export function printable(text: unknown, opts: { lines?: boolean; max?: number } = {}): string {
  const s = String(text ?? '');
  const escaped = s.replace(opts.lines ? CONTROL_BUT_LINES : CONTROL, hex);
  return opts.max !== undefined && escaped.length > opts.max ? `${escaped.slice(0, opts.max)}… (${s.length} characters)` : escaped;
}

/** JSON.stringify, with the controls it leaves raw written as \uNNNN: the same value, safe to show. */
export function printableJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(JSON_RAW, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
