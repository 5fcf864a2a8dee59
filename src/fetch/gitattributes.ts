// The two attributes `git archive` acts on, export-ignore and export-subst, read from the
// tree's own .gitattributes files (the root one and nested ones) the way git's attr.c reads
// them: the deepest file and, within a file, the last matching line decide; a line naming
// an attribute with `!` makes it unspecified there; negative patterns (`!pattern`) are not
// allowed in attributes, and git ignores such lines; so do lines over 2,048 bytes (files
// over 100 MB too; export-attrs.ts refuses far smaller sets). Only lines that name one of the two attributes are kept. Macros (`[attr]`)
// are not expanded: git's only built-in one, `binary`, touches neither attribute.
import { RevError } from '../errors.js';

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
 * One step of a pattern: a character test (a literal, `?` or a bracket), a run of stars
 * (`slash`: it may span folders), or a double star and a slash (zero or more whole folders).
 */
type Tok = { t: 'char'; re: string; test: (ch: string) => boolean } | { t: 'star'; slash: boolean } | { t: 'dirs' };

/**
 * git's wildmatch as steps. With `pathname` (WM_PATHNAME), `*`, `?` and brackets stop at a
 * slash and `**` between slashes spans folders; without it (a basename) every wildcard
 * matches anything.
 */
function wildmatchTokens(pattern: string, pathname: boolean): Tok[] {
  const toks: Tok[] = [];
  const lit = (c: string) => toks.push({ t: 'char', re: escapeRe(c), test: (ch) => ch === c });
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
          toks.push({ t: 'dirs' });
          i++;
        } else toks.push({ t: 'star', slash: true });
      } else toks.push({ t: 'star', slash: false });
    } else if (c === '?') toks.push(pathname ? { t: 'char', re: '[^/]', test: (ch) => ch !== '/' } : { t: 'char', re: '[^]', test: () => true });
    else if (c === '\\' && i + 1 < pattern.length) lit(pattern[++i]);
    else if (c === '[') {
      const end = bracket(pattern, i);
      if (end < 0) lit('[');
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
        // One character against one class: no quantifier, so no backtracking.
        const one = negate ? `(?!/)[^${cls}]` : pathname ? `(?!/)[${cls}]` : `[${cls}]`;
        const re = new RegExp(`^${one}$`);
        toks.push({ t: 'char', re: one, test: (ch) => re.test(ch) });
        i = end;
      }
    } else lit(c);
  }
  return toks;
}

/**
 * The work the patterns with many stars may take for one tree, in steps (one pattern state
 * on one character): about a second. A hostile pattern (`*a*a*a*a*a*a*a*a*b`) as a
 * backtracking regular expression took minutes on one 60-character name; as states it takes
 * a few hundred steps, so only a tree of huge such patterns reaches this.
 */
export const MATCH_STEPS_MAX = 20_000_000;

export interface MatchBudget {
  steps: number;
}

/** What a regular expression may try on one path: about (path length) ^ (stars) x (pattern length). */
const REGEXP_TRIES_MAX = 1_000_000;

/**
 * A wildmatch pattern as a test of a path. A backtracking regular expression may try every
 * way of splitting the path among the stars, so it is used only where those are few (one
 * star, or `/build/**` + `/*.map` on a path of a few hundred characters: V8's fastest); the
 * rest run as a set of states moved one character at a time, linear in the path and the
 * pattern, and charged to `budget`.
 */
export function wildmatcher(pattern: string, pathname: boolean, budget: MatchBudget = { steps: 0 }): (text: string) => boolean {
  const toks = wildmatchTokens(pattern, pathname);
  const stars = toks.filter((t) => t.t !== 'char').length;
  const re = new RegExp(`^${toks.map((t) => (t.t === 'char' ? t.re : t.t === 'dirs' ? '(?:[^]*/)?' : t.slash ? '[^]*' : '[^/]*')).join('')}$`);
  return (text) => (stars <= 1 || (text.length + 1) ** stars * toks.length <= REGEXP_TRIES_MAX ? re.test(text) : nfaMatch(toks, text, budget));
}
/**
 * Whether `text` matches, moving every live state of the pattern one character at a time.
 * State p is "before step p"; state m + 1 + p is "inside the folders that step p (a double
 * star and a slash) spans".
 */
function nfaMatch(toks: Tok[], text: string, budget: MatchBudget): boolean {
  const m = toks.length;
  const seen = new Uint32Array(2 * m + 1);
  let gen = 1;
  let cur: number[] = [];
  const add = (list: number[], s: number) => {
    // A star or a run of folders may match nothing: the step after it is live too.
    for (;;) {
      if (seen[s] === gen) return;
      seen[s] = gen;
      list.push(s);
      if (s >= m || toks[s].t === 'char') return;
      s++;
    }
  };
  add(cur, 0);
  for (let i = 0; i < text.length && cur.length; i++) {
    budget.steps += cur.length;
    if (budget.steps > MATCH_STEPS_MAX) throw tooSlow();
    const ch = text[i];
    const next: number[] = [];
    gen++;
    for (const s of cur) {
      if (s > m) {
        add(next, s);
        if (ch === '/') add(next, s - m);
        continue;
      }
      if (s === m) continue;
      const t = toks[s];
      if (t.t === 'char') {
        if (t.test(ch)) add(next, s + 1);
      } else if (t.t === 'star') {
        if (t.slash || ch !== '/') add(next, s);
      } else {
        add(next, m + 1 + s);
        if (ch === '/') add(next, s + 1);
      }
    }
    cur = next;
  }
  return cur.includes(m);
}

function tooSlow(): RevError {
  return new RevError('LIMIT_EXCEEDED', `Refused to deploy: the patterns of this commit's .gitattributes files take more than ${MATCH_STEPS_MAX.toLocaleString('en-US')} steps to match against its paths, far more than real patterns do, so nothing was published; simplify the patterns with many wildcards and deploy again.`, {
    data: { max: MATCH_STEPS_MAX },
  });
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
export function parseAttributes(text: string, budget: MatchBudget = { steps: 0 }): Rule[] {
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
      const re = wildmatcher(pattern, false, budget);
      rules.push({ match: (rel) => re(rel.slice(rel.lastIndexOf('/') + 1)), mustBeDir, states });
    } else {
      const re = wildmatcher(pattern.replace(/^\//, ''), true, budget);
      rules.push({ match: (rel) => re(rel), mustBeDir, states });
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
  /** One budget for the whole tree: a hostile file is refused, not matched for hours. */
  private budget: MatchBudget = { steps: 0 };

  constructor(files: Map<string, string>) {
    for (const [dir, text] of files) {
      const rules = parseAttributes(text, this.budget);
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
