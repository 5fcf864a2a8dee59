// The bench's source repository: a bare repo built in one `git fast-import` stream
// (a bulk import, then many small commits), so a long history costs seconds, not minutes.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { int, mulberry32, pick, type Rng } from './prng.js';
import { makeTree, textOfSize, type TreeSpec } from './content.js';

// Two shapes, as the issue asks: a source tree of many small files in hundreds of folders,
// and a few large files. Each has a long history of small edits.
export const REPOS = [
  { name: 'many small files', spec: { files: 3000, dirs: 300, totalBytes: 12 * 1024 * 1024, commits: 220, seed: 0x70e5 } },
  { name: 'few large files', spec: { files: 40, dirs: 4, totalBytes: 24 * 1024 * 1024, commits: 60, seed: 0x1a7e } },
];

export interface BenchRepo {
  bare: string;
  files: number;
  bytes: number;
  commits: number;
  /** Commits a one-line change to one file; returns the new commit id. */
  changeOneLine(): Promise<string>;
}

// Fixed identity and clock: the same inputs give the same commit ids on every run.
const IDENT = 'Bench <bench@example.com>';
const EPOCH = 1_700_000_000;

export function gitEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
}

async function write(out: Writable, chunk: string | Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`;
}

function commitHeader(seq: number, message: string, from?: string): string {
  const when = `${EPOCH + seq * 3600} +0000`;
  return `commit refs/heads/main\nauthor ${IDENT} ${when}\ncommitter ${IDENT} ${when}\n${data(message)}${from ? `from ${from}\n` : ''}`;
}

/** Runs one fast-import stream into `bare`, fed by `produce`. */
async function fastImport(bare: string, env: NodeJS.ProcessEnv, produce: (out: Writable) => Promise<void>): Promise<void> {
  // fast-import allocates and frees a buffer per blob; with glibc's default trim threshold
  // that is thousands of brk calls (3 s here), a larger pad makes it under 1 s.
  const mallocEnv = { MALLOC_TOP_PAD_: String(256 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) };
  const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: bare, env: { ...env, ...mallocEnv }, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = once(child, 'close');
  await produce(child.stdin);
  await write(child.stdin, 'done\n');
  child.stdin.end();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr}`);
}

export async function buildRepo(root: string, home: string, spec: TreeSpec & { commits: number; seed: number }): Promise<BenchRepo> {
  const env = gitEnv(home);
  const bare = path.join(root, 'app.git');
  fs.mkdirSync(bare, { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare], { env });
  const rng = mulberry32(spec.seed);
  const tree = makeTree(rng, spec);
  const paths = [...tree.keys()].filter((p) => p !== 'package.json');
  let seq = 0;
  await fastImport(bare, env, async (out) => {
    await write(out, commitHeader(seq++, 'initial import'));
    for (const [p, text] of tree) await write(out, `M 100644 inline ${p}\n${data(text)}`);
    // The rest of the history: small edits to a few files each, like day-to-day work.
    while (seq < spec.commits) {
      await write(out, commitHeader(seq, `edit ${seq}`));
      for (let k = int(rng, 1, 4); k > 0; k--) {
        const p = pick(rng, paths);
        const text = textOfSize(rng, tree.get(p)!.length);
        tree.set(p, text);
        await write(out, `M 100644 inline ${p}\n${data(text)}`);
      }
      seq++;
    }
  });
  // A served repository is normally packed; this also gives http-backend real deltas to reuse.
  execFileSync('git', ['repack', '-adq'], { cwd: bare, env });
  const target = pickTarget(rng, tree);
  let revision = 0;
  return {
    bare,
    files: tree.size,
    bytes: [...tree.values()].reduce((a, t) => a + Buffer.byteLength(t), 0),
    commits: seq,
    async changeOneLine() {
      revision++;
      const lines = tree.get(target)!.split('\n');
      lines[0] = `// bench revision ${revision}`;
      const text = lines.join('\n');
      tree.set(target, text);
      await fastImport(bare, env, async (out) => {
        await write(out, commitHeader(seq++, `one-line change ${revision}`, 'refs/heads/main^0'));
        await write(out, `M 100644 inline ${target}\n${data(text)}`);
      });
      return execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: bare, env, encoding: 'utf8' }).trim();
    },
  };
}

/**
 * A mid-sized file to change: the common case of editing one ordinary source file. A tree
 * of large files has none; there the smallest file stands in for it.
 */
function pickTarget(rng: Rng, tree: Map<string, string>): string {
  const mid = [...tree.keys()].filter((p) => p.endsWith('.ts') && tree.get(p)!.length > 2000 && tree.get(p)!.length < 8000);
  if (mid.length) return pick(rng, mid);
  return [...tree.keys()].filter((p) => p !== 'package.json').sort((a, b) => tree.get(a)!.length - tree.get(b)!.length)[0];
}
