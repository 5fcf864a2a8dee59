// The page's script and stylesheet, built from browser/ by `npm run build` into
// dist/bundle/page/ under names that carry a hash of their content (manifest.json lists
// them). Served from memory, loaded with the page (a daemon that only takes webhooks
// never reads them), and cached by browsers for good: a new build is a new name.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RevError } from '../../errors.js';

export type AssetName = 'page.js' | 'login.js' | 'page.css';

interface Asset {
  url: string;
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * dist/bundle/page/ from wherever this module was loaded: dist/src/hooks/page/ (tsc) or a
 * bundle's file in dist/bundle/<runtime>/.
 */
function assetDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const candidate of [path.join(dir, 'bundle', 'page'), path.join(dir, 'page')]) {
      if (fs.existsSync(path.join(candidate, 'manifest.json'))) return candidate;
    }
    dir = path.dirname(dir);
  }
  throw new RevError('USAGE', 'The settings page\'s scripts are missing (dist/bundle/page/); run `npm run build` in the toes-rev checkout.');
}

let loaded: { byName: Map<AssetName, Asset>; byUrl: Map<string, Asset> } | undefined;

function load() {
  if (loaded) return loaded;
  const dir = assetDir();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<AssetName, string>;
  const byName = new Map<AssetName, Asset>();
  const byUrl = new Map<string, Asset>();
  for (const [name, file] of Object.entries(manifest) as [AssetName, string][]) {
    const a = { url: `/assets/${file}`, type: TYPES[path.extname(file)] ?? 'application/octet-stream', body: fs.readFileSync(path.join(dir, file)) };
    byName.set(name, a);
    byUrl.set(a.url, a);
  }
  return (loaded = { byName, byUrl });
}

/** Where the page links the asset from. */
export function assetUrl(name: AssetName): string {
  return load().byName.get(name)!.url;
}

/** The asset at this path, if it is one. */
export function assetAt(urlPath: string): Asset | undefined {
  return load().byUrl.get(urlPath);
}
