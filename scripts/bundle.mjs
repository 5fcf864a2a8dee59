#!/usr/bin/env node
// Part of `npm run build`: bundles the CLI, the deploy worker and the background collector,
// once per runtime, into dist/bundle/{node,bun}/ (main.js, worker.js, prune-collector.js and
// shared chunks), which bin/toes runs.
//
// Why: Node's ESM loader resolves, reads and compiles each module on its own; a deploy
// touched about 60 files of dist/src, a chunk or two per lazy boundary here. Splitting keeps
// `toes rollback` from compiling the fetchers, and the big packages that only some commands
// use (execa, isomorphic-git, tar, ws, chokidar) stay outside and load when first imported.
// The Bun build starts with `// @bun`, so Bun skips transpiling it at every start.
// dist/src (tsc) stays as it was: `node dist/src/cli/main.js` and the tests' imports use it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bun = path.join(root, 'node_modules/.bin/bun');
const external = ['execa', 'isomorphic-git', 'tar', 'ws', 'chokidar', '@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv'];
// The runner finds worker.js, and the prune stage prune-collector.js, beside their own
// modules, so entries and chunks share one folder.
const entries = ['src/cli/main.ts', 'src/hooks/serve/worker.ts', 'src/activate/stages/prune-collector.ts'];

for (const target of ['node', 'bun']) {
  const outdir = path.join(root, 'dist/bundle', target);
  fs.rmSync(outdir, { recursive: true, force: true });
  const args = ['build', ...entries, `--target=${target}`, '--format=esm', '--splitting', `--outdir=${outdir}`, '--entry-naming=[name].[ext]'];
  for (const e of external) args.push('--external', e);
  const r = spawnSync(bun, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write(`bundle: bun build for ${target} failed (${r.error?.message ?? `exit ${r.status}`})\n`);
    process.exit(1);
  }
}
