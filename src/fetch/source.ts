// What a source string means. Kept separate from the fetchers so the CLI can validate a
// --from value before saving it.
import fs from 'node:fs';
import path from 'node:path';
import { RevError } from '../errors.js';
import { redactUrl } from './http.js';

export function isTarballUrl(src: string): boolean {
  return /\.(tar\.gz|tgz)(\?.*)?$/i.test(src);
}

export type Source =
  | { kind: 'git-remote'; url: string }
  | { kind: 'git-local'; gitdir: string }
  | { kind: 'tarball'; url: string }
  | { kind: 'dir'; path: string };

function gitdirOf(p: string): string | undefined {
  if (fs.existsSync(path.join(p, '.git'))) {
    const dotgit = path.join(p, '.git');
    if (fs.statSync(dotgit).isDirectory()) return dotgit;
    const m = /^gitdir:\s*(.+)$/m.exec(fs.readFileSync(dotgit, 'utf8'));
    if (m) return path.resolve(p, m[1].trim());
  }
  if (fs.existsSync(path.join(p, 'HEAD')) && fs.existsSync(path.join(p, 'objects'))) return p;
  return undefined;
}

/** Parses a --from value. `cwd` resolves relative paths. */
export function parseSource(raw: string, cwd = process.cwd()): Source {
  const src = raw.trim();
  if (!src) throw new RevError('NO_SOURCE', 'The source is empty; give a git URL, a .tar.gz URL or a directory with --from.');
  if (/^https?:\/\//i.test(src)) {
    let u: URL;
    try {
      u = new URL(src);
    } catch {
      throw new RevError('USAGE', `"${redactUrl(src)}" is not a valid URL; give a full address such as https://rev.host/me/app.git.`);
    }
    const secretParam = [...u.searchParams.keys()].find((k) => /token|secret|password|passwd|auth|key|sig/i.test(k));
    if (secretParam) {
      throw new RevError('USAGE', `Do not put credentials in the source URL (the "${secretParam}" parameter); store the token with \`toes env set <app> REV_TOKEN\` (it reads the token from stdin) instead.`);
    }
    if (u.username || u.password) {
      throw new RevError('USAGE', `Do not put credentials in the source URL (${redactUrl(src)}); store the token with \`toes env set <app> REV_TOKEN\` (it reads the token from stdin) instead.`);
    }
    return isTarballUrl(u.pathname) ? { kind: 'tarball', url: src } : { kind: 'git-remote', url: src };
  }
  if (src.startsWith('dir:')) return { kind: 'dir', path: path.resolve(cwd, src.slice(4)) };
  const p = src.startsWith('file://') ? new URL(src).pathname : path.resolve(cwd, src.replace(/^~(?=\/|$)/, process.env.HOME ?? '~'));
  if (isTarballUrl(p)) return { kind: 'tarball', url: p };
  if (!fs.existsSync(p)) throw new RevError('NO_SOURCE', `The source ${p} does not exist; give a git URL, a .tar.gz URL or an existing directory.`);
  if (!fs.statSync(p).isDirectory()) throw new RevError('NO_SOURCE', `The source ${p} is not a directory, a git repository or a .tar.gz archive.`);
  const gitdir = gitdirOf(p);
  if (gitdir) return { kind: 'git-local', gitdir };
  if (src.startsWith('file://')) throw new RevError('NO_SOURCE', `${p} is not a git repository; drop the file:// prefix to deploy the directory as it is.`);
  return { kind: 'dir', path: p };
}

/** The canonical text saved as the app's source (absolute paths, no credentials). */
export function formatSource(s: Source): string {
  switch (s.kind) {
    case 'git-remote':
    case 'tarball':
      return s.url;
    case 'git-local':
      return s.gitdir.endsWith(`${path.sep}.git`) ? path.dirname(s.gitdir) : s.gitdir;
    case 'dir':
      return `dir:${s.path}`;
  }
}
