// resolve: the app's source: --from, else the saved one, else the live release's package.json.
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError } from '../../errors.js';
import { parseSource } from '../../fetch/index.js';
import { readCurrent } from '../../releases/current.js';
import { sourceToken, type SourceOrigin } from '../../releases/settings/tokens.js';
import type { DeployCtx } from '../context.js';

export async function resolve(c: DeployCtx): Promise<void> {
  const [raw, origin] = await named(c);
  c.source = parseSource(raw, origin === 'flag' ? c.req.cwd : undefined);
  const url = c.source.kind === 'git-remote' || c.source.kind === 'tarball' ? c.source.url : undefined;
  c.token = url ? await sourceToken(c.layout, c.app, url, origin) : undefined;
}

async function named(c: DeployCtx): Promise<[string, SourceOrigin]> {
  if (c.req.from) return [c.req.from, 'flag'];
  if (c.settings.source) return [c.settings.source, 'saved'];
  const repo = await sourceInLiveRelease(c);
  if (repo) return [repo.replace(/^git\+/, ''), 'package'];
  throw new RevError('NO_SOURCE', `No source is known for ${c.app}; deploy it once with \`toes deploy ${c.app} --from <git URL | .tar.gz URL | directory>\` (it is saved for next time).`, {
    data: { app: c.app },
  });
}

/** `toes.source`, else `repository`, of the package.json `current` holds (a link or a plain directory). */
async function sourceInLiveRelease(c: DeployCtx): Promise<string | undefined> {
  const link = c.layout.currentLink(c.app);
  const cur = await readCurrent(link);
  const dir = cur.kind === 'link' ? cur.abs : cur.kind === 'dir' ? link : undefined;
  if (!dir) return undefined;
  try {
    const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8'));
    const repo = pkg?.toes?.source ?? (typeof pkg?.repository === 'string' ? pkg.repository : pkg?.repository?.url);
    return typeof repo === 'string' && repo ? repo : undefined;
  } catch {
    return undefined;
  }
}
