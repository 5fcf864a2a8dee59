// The two attributes `git archive` acts on, export-ignore and export-subst, read from the
// tree's own .gitattributes files (the root one and nested ones) the way git's attr.c reads
// them: the deepest file and, within a file, the last matching line decide; a line naming
// an attribute with `!` makes it unspecified there; negative patterns (`!pattern`) are not
// allowed in attributes, and git ignores such lines; so do lines over 2,048 bytes (files
// over 100 MB too; export-attrs.ts refuses far smaller sets). Only lines that name one of the two attributes are kept. Macros (`[attr]`)
// are not expanded: git's only built-in one, `binary`, touches neither attribute.
const ATTRS = ['export-ignore', 'export-subst'] as const;
export type ArchiveAttr = (typeof ATTRS)[number];

const MAX_LINE = 2048;

interface Rule {
  /** Matches the path relative to the file's folder (a directory's without its slash). */
  match: (rel: string, base: string) => boolean;
  mustBeDir: boolean;
  /** The attribute's state on this line: true set, false unset or unspecified. */
  states: Partial<Record<ArchiveAttr, boolean>>;
}

/** POSIX classes wildmatch knows, as JavaScript class ranges. */
const CLASSES: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  blank: ' \\t',
  digit: '0-9',
  lower: 'a-z',
  upper: 'A-Z',
  space: ' \\t\\n\\r\\f\\v',
  xdigit: '0-9a-fA-F',
  punct: '!-\\/:-@\\[-`{-~',
};

const escapeRe = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * git's wildmatch as a regular expression. With `pathname` (WM_PATHNAME), `*`, `?` and
 * brackets stop at a slash and `**` between slashes spans folders; without it (a basename)
 * every wildcard matches anything.
 */
export function wildmatchRegExp(pattern: string, pathname: boolean): RegExp {
  const any = pathname ? '[^/]' : '[^]';
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      let j = i;
      while (pattern[j + 1] === '*') j++;
      const double = j > i;
      const atStart = i === 0 || pattern[i - 1] === '/';
      const atEnd = j + 1 === pattern.length || pattern[j + 1] === '/';
      i = j;
      if (!pathname || (double && atStart && atEnd)) {
        if (pathname && pattern[i + 1] === '/') {
          // `**/`: zero or more folders.
          re += '(?:[^]*/)?';
          i++;
        } else re += '[^]*';
      } else re += `${any}*`;
    } else if (c === '?') re += any;
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = bracket(pattern, i);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        let cls = '';
        for (let k = 0; k < body.length; k++) {
          const m = /^\[:([a-z]+):\]/.exec(body.slice(k));
          if (m) {
            cls += CLASSES[m[1]] ?? '';
            k += m[0].length - 1;
          } else if (body[k] === '\\' && k + 1 < body.length) cls += escapeRe(body[++k]);
          else if (body[k] === '-' && cls && k + 1 < body.length) cls += '-';
          else cls += escapeRe(body[k]);
        }
        re += negate ? `(?!/)[^${cls}]` : pathname ? `(?!/)[${cls}]` : `[${cls}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

/** Where the bracket expression opened at `i` closes, or -1 (then `[` is literal). */
function bracket(p: string, i: number): number {
  let k = i + 1;
  if (p[k] === '!' || p[k] === '^') k++;
  if (p[k] === ']') k++;
  for (; k < p.length; k++) {
    if (p[k] === '\\') k++;
    else if (p[k] === '[' && p[k + 1] === ':') {
      const close = p.indexOf(':]', k + 2);
      if (close > 0) k = close + 1;
    } else if (p[k] === ']') return k;
  }
  return -1;
}

/** A C-quoted pattern ("a b.txt", with \t, \", \\ and octal escapes), as git unquotes it. */
function unquote(s: string): { pattern: string; rest: string } | undefined {
  const bytes: number[] = [];
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (c === '"') return { pattern: Buffer.from(bytes).toString('utf8'), rest: s.slice(i + 1) };
    if (c !== '\\') {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const n = s[++i];
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
    if (n in simple) bytes.push(simple[n]);
    else if (/[0-3]/.test(n) && /^[0-7]{2}/.test(s.slice(i + 1))) {
      bytes.push(parseInt(s.slice(i, i + 3), 8));
      i += 2;
    } else return undefined;
  }
  return undefined;
}

/** The rules of one .gitattributes file that touch the archive attributes. */
export function parseAttributes(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split('\n')) {
    if (Buffer.byteLength(raw) > MAX_LINE) continue;
    const line = raw.replace(/^[ \t\r]+/, '');
    if (!line || line.startsWith('#')) continue;
    let pattern: string;
    let rest: string;
    if (line.startsWith('"')) {
      const q = unquote(line);
      if (!q) continue;
      ({ pattern, rest } = q);
    } else {
      const m = /^(\S+)(.*)$/.exec(line)!;
      [pattern, rest] = [m[1], m[2]];
    }
    if (pattern.startsWith('[attr]') || pattern.startsWith('!')) continue;
    const states: Rule['states'] = {};
    let valid = true;
    // Later tokens of a line win: read from the right, the first word on each attribute counts.
    for (const tok of rest.split(/[ \t\r]+/).filter(Boolean).reverse()) {
      const m = /^([-!]?)([^=]*)(=.*)?$/.exec(tok)!;
      const name = m[2];
      if (!/^[-._0-9a-zA-Z]+$/.test(name) || name.startsWith('-')) valid = false;
      const attr = ATTRS.find((a) => a === name);
      if (attr && !(attr in states)) states[attr] = m[1] === '' && m[3] === undefined;
    }
    if (!valid || Object.keys(states).length === 0) continue;
    const mustBeDir = pattern.endsWith('/');
    if (mustBeDir) pattern = pattern.replace(/\/+$/, '');
    if (!pattern) continue;
    if (!pattern.includes('/')) {
      const re = wildmatchRegExp(pattern, false);
      rules.push({ match: (rel) => re.test(rel.slice(rel.lastIndexOf('/') + 1)), mustBeDir, states });
    } else {
      const re = wildmatchRegExp(pattern.replace(/^\//, ''), true);
      rules.push({ match: (rel) => re.test(rel), mustBeDir, states });
    }
  }
  return rules;
}

/**
 * The archive attributes of a tree: `files` maps each folder holding a .gitattributes
 * ('' for the root) to its text.
 */
export class ArchiveAttributes {
  private rules = new Map<string, Rule[]>();
  private ignoredDirs = new Map<string, boolean>();

  constructor(files: Map<string, string>) {
    for (const [dir, text] of files) {
      const rules = parseAttributes(text);
      if (rules.length) this.rules.set(dir, rules);
    }
  }

  get empty(): boolean {
    return this.rules.size === 0;
  }

  /** Whether `attr` is set on `path` (a folder when `isDir`). */
  isSet(path: string, attr: ArchiveAttr, isDir = false): boolean {
    // Folders holding rules, deepest first: those above the path's own folder.
    const dirs: string[] = [];
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) dirs.push(path.slice(0, i));
    dirs.push('');
    for (const dir of dirs) {
      const rules = this.rules.get(dir);
      if (!rules) continue;
      const rel = dir ? path.slice(dir.length + 1) : path;
      for (let i = rules.length - 1; i >= 0; i--) {
        const r = rules[i];
        if (!(attr in r.states) || (r.mustBeDir && !isDir) || !r.match(rel, dir)) continue;
        return r.states[attr]!;
      }
    }
    return false;
  }

  /** Whether `git archive` leaves the file out: it, or a folder above it, is export-ignore. */
  ignored(path: string): boolean {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      const dir = path.slice(0, i);
      let hit = this.ignoredDirs.get(dir);
      if (hit === undefined) this.ignoredDirs.set(dir, (hit = this.isSet(dir, 'export-ignore', true)));
      if (hit) return true;
    }
    return this.isSet(path, 'export-ignore');
  }
}
