#!/usr/bin/env node
// Part of `npm run build`: bundles the CLI, once per runtime, into dist/bundle/{node,bun}/
// (main.js and shared chunks), plus a file of its own for each command that fits in one
// (command-NAME.js and its bytecode for Bun, command-NAME.cjs for Node), which bin/toes
// runs, and for the deploy worker and the background collector (worker, prune-collector,
// named the same way), which `toes serve` and a deploy start.
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
//   process. A command whose lazily loaded code imports a big package statically (serve
//   reaches ws through the relay link, relay the nats client) gets no such file: in one
//   file that import would run at every start. Code that needs one only sometimes imports
//   it where it is used (tar and isomorphic-git in src/fetch), which keeps `import()` in
//   the file and lets deploy have one.
// The Bun build starts with `// @bun`, so Bun skips transpiling it at every start.
// dist/src (tsc) stays as it was: `node dist/src/cli/main.js` and the tests' imports use it.
//
// The settings page's browser code (src/hooks/page/browser/) is type-checked against the
// DOM with its own tsconfig, bundled for browsers into dist/bundle/page/, and each file
// named by a hash of its content (listed in manifest.json), so the daemon can let browsers
// cache it for good: a new build is a new name.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bun = path.join(root, 'node_modules/.bin/bun');
const external = ['execa', 'isomorphic-git', 'tar', 'ws', 'chokidar', '@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv'];
// The runner finds the worker, and the prune stage the collector, beside their own
// modules, so entries, chunks and one-file builds share one folder.
const entries = ['src/cli/main.ts'];
// A process of their own each, started afresh for every deploy: one file, as a command.
// Their start-up is part of a webhook's way to live. The build fails, rather than leave
// them in main.js's chunks, when one imports a big package statically.
const programs = ['src/hooks/serve/worker.ts', 'src/activate/stages/prune-collector.ts', 'src/hooks/notify/notify-sender.ts'];
const commands = fs.readdirSync(path.join(root, 'src/cli/commands')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));

// CommonJS has no import.meta, and Bun writes the build's own path for import.meta.url,
// which would point into this checkout on every machine. Code that finds files beside its
// module (prune.ts, the runner) needs the bundle's own URL, as in an ES module bundle
// (Bun's own pathToFileURL: node:url costs Bun about 1 ms to load; Node has it loaded).
const CJS_IMPORT_META = {
  node: ['--define', 'import.meta.url=__toesBundleUrl', '--banner', 'var __toesBundleUrl = require("node:url").pathToFileURL(__filename).href;'],
  bun: ['--define', 'import.meta.url=__toesBundleUrl', '--banner', 'var __toesBundleUrl = Bun.pathToFileURL(__filename).href;'],
};

// Generated entries: the `toes` command with one subcommand, imported statically.
const entryDir = path.join(root, 'dist/bundle/.entries');
fs.mkdirSync(entryDir, { recursive: true });
for (const name of commands) {
  fs.writeFileSync(
    path.join(entryDir, `command-${name}.ts`),
    `import { runToes, toesCommand } from '../../../src/cli/root.ts';\n` +
      `import command from '../../../src/cli/commands/${name}.ts';\n` +
      `void runToes(toesCommand({ ${JSON.stringify(name)}: command }));\n`,
  );
}

/** Runs a program of the build; exits the script when it fails. */
async function step(program, args, what) {
  const failed = await new Promise((resolve) => {
    const child = spawn(program, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', (err) => resolve(err.message));
    child.on('close', (code) => resolve(code === 0 ? undefined : `exit ${code}`));
  });
  if (failed) {
    process.stderr.write(`bundle: ${what} failed (${failed})\n`);
    process.exit(1);
  }
}

/** Runs `bun build`; exits the script when it fails. */
async function build(files, outdir, target, { split = false, cjs = false, bytecode = false } = {}) {
  const ext = cjs && target === 'node' ? 'cjs' : 'js';
  const args = ['build', ...files, `--target=${target}`, `--entry-naming=[name].${ext}`, `--outdir=${outdir}`];
  args.push(...(cjs ? ['--format=cjs', ...CJS_IMPORT_META[target]] : ['--format=esm']), ...(split ? ['--splitting'] : []), ...(bytecode ? ['--bytecode'] : []));
  for (const e of external) args.push('--external', e);
  await step(bun, args, `bun build for ${target}`);
}

/** The page's scripts and stylesheet in dist/bundle/page/, named by content, and their manifest.json. */
async function bundlePage() {
  const src = path.join(root, 'src/hooks/page/browser');
  const out = path.join(root, 'dist/bundle/page');
  const tmp = path.join(out, '.build');
  fs.rmSync(out, { recursive: true, force: true });
  await step(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(src, 'tsconfig.json')], 'type-checking the page\'s browser code');
  // An IIFE each, no shared chunk: a page loads one script.
  await step(bun, ['build', path.join(src, 'page.ts'), path.join(src, 'login.ts'), '--target=browser', '--format=iife', '--minify', `--outdir=${tmp}`, '--entry-naming=[name].js'], 'bun build for the page');
  const manifest = {};
  for (const [name, file] of [['page.js', path.join(tmp, 'page.js')], ['login.js', path.join(tmp, 'login.js')], ['page.css', path.join(src, 'page.css')]]) {
    const body = fs.readFileSync(file);
    const dot = name.lastIndexOf('.');
    const hashed = `${name.slice(0, dot)}.${createHash('sha256').update(body).digest('hex').slice(0, 12)}${name.slice(dot)}`;
    fs.writeFileSync(path.join(out, hashed), body);
    manifest[name] = hashed;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** A `require("pkg")` of one of the external packages: in a CommonJS build, a static import. */
function requiresExternal(file) {
  const text = fs.readFileSync(file, 'utf8');
  return external.some((e) => text.includes(`require("${e}")`) || text.includes(`require("${e}/`));
}

await bundlePage();
const outdir = (target) => path.join(root, 'dist/bundle', target);
for (const target of ['node', 'bun']) {
  fs.rmSync(outdir(target), { recursive: true, force: true });
  await build(entries, outdir(target), target, { split: true });
}

// One build per command and runtime: Bun shakes a build's trees by what all its entries
// use, so rollback's file would keep code that only deploy calls. CommonJS for both: for
// Node (.cjs), Node's ES module loader, and the ES module view of each builtin (which
// reads every export, loading node:stream for fs.ReadStream), cost about 5 ms of a 100 ms
// rollback; for Bun, with its bytecode beside (command-NAME.js.jsc), which spares parsing
// and compiling at start (about 5 ms of a 40 ms rollback). Bun only has bytecode for
// CommonJS, and ignores it when it was made by another Bun version (or for another file),
// parsing the file as usual.
const entryOf = (name) => path.join(entryDir, `command-${name}.ts`);
const builtFiles = (name) => [path.join(outdir('node'), `${name}.cjs`), path.join(outdir('bun'), `${name}.js`)];
await Promise.all([
  ...commands.map((name) => build([entryOf(name)], outdir('node'), 'node', { cjs: true })),
  ...commands.map((name) => build([entryOf(name)], outdir('bun'), 'bun', { cjs: true, bytecode: true })),
  ...programs.map((file) => build([file], outdir('node'), 'node', { cjs: true })),
  ...programs.map((file) => build([file], outdir('bun'), 'bun', { cjs: true, bytecode: true })),
]);
// A `require` of a big package would load it at every start of the file: such a command
// keeps main.js (bin/toes falls back to it when its file is missing), and a program fails
// the build.
const single = commands.filter((name) => {
  const files = builtFiles(`command-${name}`);
  if (!files.some(requiresExternal)) return true;
  for (const file of [...files, `${files[1]}.jsc`]) fs.rmSync(file, { force: true });
  return false;
});
const programFiles = programs.flatMap((file) => builtFiles(path.basename(file, '.ts')));
for (const file of programFiles) {
  if (requiresExternal(file)) {
    process.stderr.write(`bundle: ${path.relative(root, file)} imports one of ${external.join(', ')} statically; import it where it is used\n`);
    process.exit(1);
  }
}
for (const file of [...single.flatMap((name) => builtFiles(`command-${name}`)), ...programFiles]) {
  if (fs.readFileSync(file, 'utf8').includes(`file://${root}`)) {
    process.stderr.write(`bundle: ${path.relative(root, file)} holds this checkout's path; see CJS_IMPORT_META in scripts/bundle.mjs\n`);
    process.exit(1);
  }
}
fs.rmSync(entryDir, { recursive: true, force: true });
