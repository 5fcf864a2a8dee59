// `$Format:...$` in files with the export-subst attribute, expanded from the commit's own
// data as `git archive` does (archive.c's format_subst with git log's --pretty=format:).
// Supported: %H %h %T %t %P %p, %an %ae %ad %aD %ai %aI %at %as and the same for the
// committer (%c…), %s %b %B, %d %D, %n %% %xNN, and one %(describe) per snapshot. Any other
// placeholder is left as written, which is what git does with those it does not know.
const ABBREV = 7;

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  /** The message, raw (%B). */
  message: string;
}

interface Person {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
  /** The zone as written, e.g. +0530. */
  zone: string;
}

/** What the snapshot knows of the refs at the commit, for %d and %(describe). */
export interface RefInfo {
  /** Decorations as `git log` prints them ("HEAD -> main", "tag: v1"), in order. */
  decorations: string[];
  /** An annotated tag naming exactly this commit: what `git describe` would print. */
  describe?: string;
}

function person(line: string): Person {
  const m = /^(.*?) ?<([^>]*)> (\d+) ([-+]\d{4})$/.exec(line);
  return m ? { name: m[1], email: m[2], time: Number(m[3]), zone: m[4] } : { name: '', email: '', time: 0, zone: '+0000' };
}

export function parseCommit(oid: string, content: Buffer): CommitInfo {
  const text = content.toString('utf8');
  const split = text.indexOf('\n\n');
  const head = split < 0 ? text : text.slice(0, split);
  const info: CommitInfo = { oid, tree: '', parents: [], author: person(''), committer: person(''), message: split < 0 ? '' : text.slice(split + 2) };
  for (const line of head.split('\n')) {
    // Continuation lines (a signature's) start with a space: no header of ours.
    const sp = line.indexOf(' ');
    const [key, value] = [line.slice(0, sp), line.slice(sp + 1)];
    if (key === 'tree') info.tree = value;
    else if (key === 'parent') info.parents.push(value);
    else if (key === 'author') info.author = person(value);
    else if (key === 'committer') info.committer = person(value);
  }
  return info;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** The person's date in their own zone, in the form `kind` names (git's date.c). */
function formatDate(p: Person, kind: string): string {
  const sign = p.zone[0] === '-' ? -1 : 1;
  const offset = sign * (Number(p.zone.slice(1, 3)) * 60 + Number(p.zone.slice(3, 5)));
  const d = new Date((p.time + offset * 60) * 1000);
  const [y, mo, day, h, mi, s, wd] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCDay()];
  const time = `${two(h)}:${two(mi)}:${two(s)}`;
  switch (kind) {
    case 'd':
      return `${DAYS[wd]} ${MONTHS[mo]} ${day} ${time} ${y} ${p.zone}`;
    case 'D':
      return `${DAYS[wd]}, ${day} ${MONTHS[mo]} ${y} ${time} ${p.zone}`;
    case 'i':
      return `${y}-${two(mo + 1)}-${two(day)} ${time} ${p.zone}`;
    case 'I':
      // UTC as Z, as git prints it since 2.45 (older versions printed +00:00).
      return `${y}-${two(mo + 1)}-${two(day)}T${time}${p.zone === '+0000' ? 'Z' : `${p.zone.slice(0, 3)}:${p.zone.slice(3)}`}`;
    case 's':
      return `${y}-${two(mo + 1)}-${two(day)}`;
    default:
      return String(p.time);
  }
}

/** The subject (the first paragraph, its lines joined by spaces) and the body after it. */
function subjectAndBody(message: string): { subject: string; body: string } {
  const lines = message.split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  const subject: string[] = [];
  for (; i < lines.length && lines[i].trim() !== ''; i++) subject.push(lines[i].trim());
  while (i < lines.length && lines[i].trim() === '') i++;
  return { subject: subject.join(' '), body: lines.slice(i).join('\n') };
}

/** One placeholder at `fmt[i]` (after the %): its text and length, or undefined if unknown. */
function placeholder(fmt: string, i: number, c: CommitInfo, refs: RefInfo, state: { describes: number }): [string, number] | undefined {
  const ch = fmt[i];
  const short = (oid: string) => oid.slice(0, ABBREV);
  switch (ch) {
    case 'H':
      return [c.oid, 1];
    case 'h':
      return [short(c.oid), 1];
    case 'T':
      return [c.tree, 1];
    case 't':
      return [short(c.tree), 1];
    case 'P':
      return [c.parents.join(' '), 1];
    case 'p':
      return [c.parents.map(short).join(' '), 1];
    case 'n':
      return ['\n', 1];
    case '%':
      return ['%', 1];
    case 's':
      return [subjectAndBody(c.message).subject, 1];
    case 'b':
      return [subjectAndBody(c.message).body, 1];
    case 'B':
      return [c.message, 1];
    case 'd':
      return [refs.decorations.length ? ` (${refs.decorations.join(', ')})` : '', 1];
    case 'D':
      return [refs.decorations.join(', '), 1];
    case 'x': {
      const hex = /^[0-9a-fA-F]{2}/.exec(fmt.slice(i + 1));
      return hex ? [String.fromCharCode(parseInt(hex[0], 16)), 3] : undefined;
    }
    case 'a':
    case 'c': {
      const p = ch === 'a' ? c.author : c.committer;
      const k = fmt[i + 1];
      if (k === 'n') return [p.name, 2];
      if (k === 'e') return [p.email, 2];
      if (k && 'dDiIts'.includes(k)) return [formatDate(p, k), 2];
      return undefined;
    }
    case '(': {
      const m = /^\(describe(?::[^)]*)?\)/.exec(fmt.slice(i));
      // git expands one %(describe) per archive, so a file of them cannot run `git describe` for ever.
      if (!m || state.describes++ > 0) return undefined;
      return [refs.describe ?? '', m[0].length];
    }
    default:
      return undefined;
  }
}

/** The expansion, or undefined once it is longer than `max` characters (each one at least a byte). */
function expand(fmt: string, c: CommitInfo, refs: RefInfo, state: { describes: number }, max: number): string | undefined {
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    if (fmt[i] !== '%') {
      out += fmt[i];
      continue;
    }
    const hit = placeholder(fmt, i + 1, c, refs, state);
    if (!hit) out += '%';
    else {
      out += hit[0];
      i += hit[1];
      if (out.length > max) return undefined;
    }
  }
  return out;
}

const OPEN = Buffer.from('$Format:');

/**
 * Substitutes each `$Format:...$` of `content`; undefined when there is none, null when the
 * result would be over `max` bytes. A placeholder of two characters can stand for the whole
 * commit message (%B): a file of them would grow a thousandfold, past what a Pi holds.
 */
export function formatSubst(content: Buffer, c: CommitInfo, refs: RefInfo, state: { describes: number }, max = Infinity): Buffer | undefined | null {
  const parts: Buffer[] = [];
  let size = 0;
  let from = 0;
  for (;;) {
    const b = content.indexOf(OPEN, from);
    if (b < 0) break;
    const end = content.indexOf(0x24, b + OPEN.length);
    if (end < 0) break;
    const text = expand(content.toString('utf8', b + OPEN.length, end), c, refs, state, max - size - (b - from));
    if (text === undefined) return null;
    const part = Buffer.from(text, 'utf8');
    size += b - from + part.length;
    if (size > max) return null;
    parts.push(content.subarray(from, b), part);
    from = end + 1;
  }
  if (!parts.length) return undefined;
  if (size + content.length - from > max) return null;
  parts.push(content.subarray(from));
  return Buffer.concat(parts);
}
