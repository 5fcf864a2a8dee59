#!/usr/bin/env node
// Part of `npm run build`: bundles the CLI, the deploy worker and the background collector,
// once per runtime, into dist/bundle/{node,bun}/ (main.js, worker.js, prune-collector.js and
// shared chunks), plus a file of its own for each command that fits in one (command-NAME.js),
// which bin/toes runs.
//
// Why: a runtime pays for each module file it loads (resolve, read, link) far more than for
// its size: `toes rollback` through main.js loaded about 25 chunks and took twice as long to
// import as its whole code in one file (which is smaller too: tree shaking works across one
// file, not across chunks). But one file for the whole CLI compiles everything, so:
// - main.js and its chunks (`--splitting`) serve every command, and the commands that
//   cannot have a file of their own. Splitting keeps the fetchers out of `toes rollback`'s
//   way, and the big packages (execa, isomorphic-git, tar, ws, chokidar, nats) outside,
//   loading when first imported.
// - command-NAME.js holds everything one command may run, lazily imported parts included,
//   with no chunk: nothing is shared with another file, so each module exists once in the
//   process. A command whose lazily loaded code imports a big package statically (deploy
//   reaches tar and isomorphic-git, serve ws) gets no such file: in one file that import
//   would run at every start.
// The Bun build starts with `// @bun`, so Bun skips transpiling it at every start.
// dist/src (tsc) stays as it was: `node dist/src/cli/main.js` and the tests' imports use it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bun = path.join(root, 'node_modules/.bin/bun');
const external = ['execa', 'isomorphic-git', 'tar', 'ws', 'chokidar', '@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv'];
// The runner finds worker.js, and the prune stage prune-collector.js, beside their own
// modules, so entries, chunks and command files share one folder.
const entries = ['src/cli/main.ts', 'src/hooks/serve/worker.ts', 'src/activate/stages/prune-collector.ts'];
const commands = fs.readdirSync(path.join(root, 'src/cli/commands')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));

// Generated entries: the `toes` command with one subcommand, imported statically.
const entryDir = path.join(root, 'dist/bundle/.entries');
fs.mkdirSync(entryDir, { recursive: true });
const commandEntries = commands.map((name) => {
  const file = path.join(entryDir, `command-${name}.ts`);
  fs.writeFileSync(
    file,
    `import { runMain } from 'citty';\n` +
      `import { toesCommand } from '../../../src/cli/root.ts';\n` +
      `import command from '../../../src/cli/commands/${name}.ts';\n` +
      `void runMain(toesCommand({ ${JSON.stringify(name)}: command }));\n`,
  );
  return file;
});

function bunBuild(files, outdir, target, split) {
  const args = ['build', ...files, `--target=${target}`, '--format=esm', ...(split ? ['--splitting'] : []), `--outdir=${outdir}`, '--entry-naming=[name].[ext]'];
  for (const e of external) args.push('--external', e);
  return new Promise((resolve) => {
    const child = spawn(bun, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', (err) => resolve(err.message));
    child.on('close', (code) => resolve(code === 0 ? undefined : `exit ${code}`));
  });
}

async function build(files, outdir, target, split) {
  const failed = await bunBuild(files, outdir, target, split);
  if (failed) {
    process.stderr.write(`bundle: bun build for ${target} failed (${failed})\n`);
    process.exit(1);
  }
}

/** A top-level `import … from "pkg"` (or `import "pkg"`) of one of the external packages. */
function importsExternalEagerly(file) {
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^import\b[^"';]*["']([^"']+)["']/gm)) {
    if (external.some((e) => m[1] === e || m[1].startsWith(`${e}/`))) return true;
  }
  return false;
}

for (const target of ['node', 'bun']) {
  const outdir = path.join(root, 'dist/bundle', target);
  fs.rmSync(outdir, { recursive: true, force: true });
  await build(entries, outdir, target, true);
  // One build per command: Bun shakes a build's trees by what all its entries use, so
  // rollback's file would keep code that only deploy calls.
  await Promise.all(commandEntries.map((file) => build([file], outdir, target, false)));
  for (const name of commands) {
    const file = path.join(outdir, `command-${name}.js`);
    if (importsExternalEagerly(file)) fs.rmSync(file);
  }
}
