// Every relative link in the README, the changelog and the guides in docs/ leads somewhere:
// to a file or folder of the repository and, after a `#`, to a heading GitHub would make an
// anchor for (or to a line of a source file). docs/pending/ is left out: it holds engineers'
// notes that the lead folds into the guides, links and all.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { projectRoot, tmpDir } from '../fixtures/cli.js';

/** The Markdown files whose links are checked, relative to `root`. */
function documents(root: string): string[] {
  const out = ['README.md', 'CHANGELOG.md'].filter((f) => fs.existsSync(path.join(root, f)));
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${d.name}`;
      if (d.isDirectory() && r !== 'docs/pending') walk(r);
      else if (d.isFile() && d.name.endsWith('.md')) out.push(r);
    }
  };
  if (fs.existsSync(path.join(root, 'docs'))) walk('docs');
  return out.sort();
}

/** The lines of a Markdown file, with fenced code blocks blanked (their text is no link or heading). */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const mark = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (mark && mark[0] === fence[0] && mark.length >= fence.length) fence = undefined;
      return '';
    }
    if (mark) {
      fence = mark;
      return '';
    }
    return line;
  });
}

/** Heading text as GitHub renders it: code, links and emphasis reduced to their text. */
function headingText(raw: string): string {
  return raw
    .replace(/(`+)([\s\S]*?)\1/g, '$2')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\*+/g, '')
    .replace(/(^|\s)_+|_+(\s|$)/g, '$1$2')
    .trim();
}

/** GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(text: string): string {
  return headingText(text)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file: one per ATX heading (repeats get -1, -2…), and any HTML id or name. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(text)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n ? `${base}-${n}` : base);
    }
    for (const m of line.matchAll(/\s(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  }
  return out;
}

/** Each link target on a line: inline links and images, reference definitions, HTML href and src. */
function targetsIn(line: string): string[] {
  const prose = line.replace(/(`+)[\s\S]*?\1/g, '');
  const out: string[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) out.push(m[1].replace(/^<|>$/g, ''));
  const def = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(prose);
  if (def) out.push(def[1].replace(/^<|>$/g, ''));
  for (const m of prose.matchAll(/\s(?:href|src)="([^"]*)"/g)) out.push(m[1]);
  return out;
}

/** Why `target`, linked from `file`, leads nowhere; undefined when it resolves. */
function whyBroken(root: string, file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const rawPath = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const rel = decodeURIComponent(rawPath);
  const abs = rel === '' ? path.join(root, file) : rel.startsWith('/') ? path.join(root, rel) : path.resolve(root, path.dirname(file), rel);
  if (path.relative(root, abs).startsWith('..')) return 'leads out of the repository';
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    return 'no such file';
  }
  if (anchor === undefined) return undefined;
  if (stat.isDirectory()) return 'an anchor on a folder';
  const text = fs.readFileSync(abs, 'utf8');
  if (abs.endsWith('.md')) return anchorsOf(text).has(anchor) ? undefined : 'no such heading';
  // A source file's anchors are its lines, as GitHub shows them: #L12 or #L12-L20.
  const lines = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
  const last = text.split('\n').length;
  return lines && Number(lines[1]) >= 1 && Number(lines[2] ?? lines[1]) <= last ? undefined : 'no such line';
}

/** Every relative link in `files` (relative to `root`) that leads nowhere, as `file:line: target: why`. */
function brokenLinks(root: string, files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    proseLines(fs.readFileSync(path.join(root, file), 'utf8')).forEach((line, i) => {
      for (const target of targetsIn(line)) {
        // Absolute URLs (https:, mailto:, //host) are the web's business, not this repository's.
        if (/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(target)) continue;
        const why = whyBroken(root, file, target);
        if (why) out.push(`${file}:${i + 1}: ${target}: ${why}`);
      }
    });
  }
  return out;
}

test('every relative link in the README, the changelog and docs/ resolves, anchors included', () => {
  const files = documents(projectRoot);
  assert.ok(files.includes('README.md') && files.some((f) => f.startsWith('docs/')), files.join(', '));
  assert.deepEqual(brokenLinks(projectRoot, files), []);
});

test('the README stays a front door: at most 250 lines', () => {
  const lines = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8').trimEnd().split('\n').length;
  assert.ok(lines <= 250, `README.md has ${lines} lines; move the detail to a guide in docs/`);
});

test("anchors are made as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, code and links as their text", () => {
  assert.equal(slug('Quick start'), 'quick-start');
  assert.equal(slug('kill -9 and power cuts'), 'kill--9-and-power-cuts');
  assert.equal(slug('`toes serve` and `toes relay`: Bun or Node'), 'toes-serve-and-toes-relay-bun-or-node');
  assert.equal(slug('Coming from deploy.sh'), 'coming-from-deploysh');
  assert.equal(slug('The [relay](relay.md) and **its** limits_x'), 'the-relay-and-its-limits_x');
  assert.equal(slug('Größe & Ünïcode 2.0'), 'größe--ünïcode-20');
});

function writeTree(t: TestContext, files: Record<string, string>): string {
  const dir = tmpDir('toes-rev-links-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test('a missing file, a missing heading or line, a link out of the repository are each named; code, URLs and good links are not', (t) => {
  const dir = writeTree(t, {
    'README.md': [
      '# Title',
      '[ok](docs/b.md#second-heading) [repeat](docs/b.md#second-heading-1) [self](#title) [dir](docs/) [img](docs/pic.png "a title")',
      '[gone](docs/nope.md) and ![gone too](docs/nope.png)',
      '[no heading](docs/b.md#nothing) [no self](#untitled)',
      '[line](src/c.ts#L2) [lines](src/c.ts#L1-L3) [past the end](src/c.ts#L9) [dir anchor](docs/#x)',
      '[out](../elsewhere.md) [web](https://example.com/x.md) [mail](mailto:a@b.c) `[code](nope.md)`',
      '```',
      '[fenced](nope.md)',
      '```',
      '[ref]: docs/missing.md',
      '<a href="docs/b.md#code-and-bold-5s">html</a>',
    ].join('\n'),
    'docs/b.md': '## Second heading\n\n## Second heading\n\n### `code` and **bold**: 5/s\n\n[back](../README.md#title)\n',
    'docs/pic.png': '',
    'src/c.ts': 'a\nb\nc\n',
  });
  assert.deepEqual(brokenLinks(dir, documents(dir)), [
    'README.md:3: docs/nope.md: no such file',
    'README.md:3: docs/nope.png: no such file',
    'README.md:4: docs/b.md#nothing: no such heading',
    'README.md:4: #untitled: no such heading',
    'README.md:5: src/c.ts#L9: no such line',
    'README.md:5: docs/#x: an anchor on a folder',
    'README.md:6: ../elsewhere.md: leads out of the repository',
    'README.md:10: docs/missing.md: no such file',
  ]);
});
