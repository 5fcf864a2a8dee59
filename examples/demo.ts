// `npm run demo`: a guided tour of toes-rev that needs no configuration. It makes a
// throwaway DATA_DIR, puts the bundled sample app (examples/sample-app) into a git
// repository served over smart HTTP on loopback (git's own `git http-backend`), and runs
// the real `toes` CLI as child processes: deploy, change, deploy again, roll back, list,
// then a push deployed by a signed webhook through a local relay and `toes serve`.
// Every step is printed as a section with the exact command and its real output.
// Exits non-zero if any step fails. DEMO_KEEP=1 keeps the temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGitServer, type GitServer } from '../test/fixtures/git-server.js';
import { makeRepo } from '../test/fixtures/repo.js';
import { freePort, startSupervisor, type Supervisor } from '../test/fixtures/apps.js';
import { standard } from '../test/fixtures/hooks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '../..'); // dist/examples -> the project
const cliPath = path.join(projectRoot, 'dist/src/cli/main.js');
const binDir = path.join(projectRoot, 'node_modules/.bin');
const sampleDir = path.join(projectRoot, 'examples/sample-app');
const APP = 'sample';

class StepFailed extends Error {}

function heading(n: number, title: string): void {
  const text = `${n}. ${title}`;
  process.stdout.write(`\n${'='.repeat(4)} ${text} ${'='.repeat(Math.max(4, 72 - text.length))}\n\n`);
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new StepFailed(`check failed: ${what}`);
  say(`  ok: ${what}`);
}

/** The sample app's files (text), relative paths as keys. */
function readSample(dir: string, rel = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (d.name === 'node_modules' || d.name === 'dist' || d.name === 'build-info.json') continue;
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) Object.assign(files, readSample(dir, r));
    else if (d.isFile()) files[r] = fs.readFileSync(path.join(dir, r), 'utf8');
  }
  return files;
}

/** The children's environment: only our DATA_DIR, never the user's real Toes directories or tokens. */
function childEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (['DATA_DIR', 'APPS_DIR', 'TOES_DIR', 'TOES_URL'].includes(k) || k.startsWith('REV_') || k.startsWith('TOES_REV_')) continue;
    env[k] = v;
  }
  env.DATA_DIR = dataDir;
  env.PATH = `${binDir}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

/** The command running now, so an interrupted demo can stop it before removing its files. */
let active: ChildProcess | undefined;

function stopActive(): Promise<void> {
  const child = active;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 3_000);
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface Ran {
  stdout: string;
  stderr: string;
}

/** Long-running commands started in the background (`... &`), stopped at the end. */
const background: ChildProcess[] = [];

/** Starts `toes ...` in the background and waits for its `listening url=...` line. */
function startBackground(args: string[], env: NodeJS.ProcessEnv, cwd: string, logFile: string): Promise<string> {
  say(`$ toes ${args.join(' ')} > ${path.basename(logFile)} &`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [cliPath, ...args], { env, cwd, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  background.push(child);
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    const poll = () => {
      const m = / listening url=(\S+)/.exec(fs.readFileSync(logFile, 'utf8'));
      if (m) return resolve(m[1]);
      if (child.exitCode !== null || Date.now() > deadline) return reject(new StepFailed(`toes ${args[0]} did not start: ${fs.readFileSync(logFile, 'utf8')}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

function stopBackground(): Promise<unknown> {
  return Promise.all(
    background.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Runs a command, echoing it as `$ shown` and streaming its output; fails the demo on a non-zero exit. */
function run(file: string, args: string[], shown: string, opts: { env: NodeJS.ProcessEnv; cwd: string; expectFailure?: boolean; quiet?: boolean }): Promise<Ran> {
  say(`$ ${shown}`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    active = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (!opts.quiet) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      process.stdout.write(d);
    });
    child.on('error', (err) => reject(new StepFailed(`could not run ${shown}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if ((code === 0) !== !!opts.expectFailure) {
        if (code !== 0) say(`(exit code ${code}, as expected)`);
        return resolve({ stdout, stderr });
      }
      if (opts.expectFailure) return reject(new StepFailed(`\`${shown}\` was expected to fail and did not`));
      reject(new StepFailed(`\`${shown}\` ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`));
    });
  });
}

function liveVersion(dataDir: string): { release: string; version: string } {
  const link = path.join(dataDir, 'apps', APP, 'current');
  const release = fs.readlinkSync(link);
  const { version } = JSON.parse(fs.readFileSync(path.join(link, 'package.json'), 'utf8'));
  return { release, version };
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!fs.existsSync(cliPath)) throw new StepFailed(`${cliPath} is missing; run \`npm run build\` (or \`npm run demo\`, which builds first).`);
  if (!fs.existsSync(path.join(binDir, 'bun'))) throw new StepFailed(`bun is not installed in ${binDir}; run \`npm ci\` first.`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-rev-demo-'));
  const dataDir = path.join(tmp, 'data');
  const gitRoot = path.join(tmp, 'git');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(gitRoot);
  const env = childEnv(dataDir);
  const keep = process.env.DEMO_KEEP === '1';
  let server: GitServer | undefined;
  let supervisor: Supervisor | undefined;

  const cleanup = async () => {
    await stopBackground();
    await server?.close();
    server = undefined;
    await supervisor?.stop();
    supervisor = undefined;
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    void stopActive()
      .then(cleanup)
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const toes = (args: string[], expectFailure = false) => run(process.execPath, [cliPath, ...args], `toes ${args.join(' ')}`, { env, cwd: tmp, expectFailure });
  let port = 0;
  /** Asks the running app over HTTP which version answers, as a user's browser would. */
  const curl = async (expect: string) => {
    say(`$ curl http://127.0.0.1:${port}/`);
    const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), (e: Error) => `(no answer: ${e.message})`);
    say(body.trim());
    const version = (() => {
      try {
        return JSON.parse(body).version as string;
      } catch {
        return undefined;
      }
    })();
    check(version === expect, `the app answers with version ${expect}`);
  };

  try {
    heading(1, 'Set up: an empty DATA_DIR and the sample app in a git repository');
    const files = readSample(sampleDir);
    const repo = makeRepo(gitRoot, `${APP}.git`, files);
    server = await startGitServer(gitRoot);
    const url = server.repoUrl(`${APP}.git`);
    say(`DATA_DIR=${dataDir}   (empty: toes-rev creates apps/ and rev/ in it)`);
    say(`Sample app: examples/sample-app (${Object.keys(files).sort().join(', ')})`);
    say(`Served by \`git http-backend\` at ${url} (branch main)`);
    say('');
    say(`Each \`toes ...\` below runs \`node dist/src/cli/main.js ...\` as a child process with`);
    say(`DATA_DIR set as above and node_modules/.bin first on PATH, so \`bun\` is found.`);
    port = await freePort();
    supervisor = await startSupervisor(path.join(dataDir, 'apps'), { [APP]: port });
    env.TOES_URL = supervisor.url;
    say('');
    say(`A Toes-like supervisor (test/fixtures/supervisor.ts) runs the app on port ${port} and`);
    say(`answers Toes' restart route at ${supervisor.url}; TOES_URL points there, so toes-rev`);
    say(`restarts the app after every swap and waits for GET /ok before it calls a release good.`);
    await toes(['config', 'set', APP, 'health.url', `http://127.0.0.1:${port}/ok`]);
    await toes(['config', 'set', APP, 'health.timeout', '5']);

    heading(2, 'Deploy version 1.0.0 (--from is saved for next time)');
    const d1 = await toes(['deploy', APP, '--from', url, '--verbose']);
    const m = /\((\d+) files, (\d+) bytes downloaded\)/.exec(d1.stderr);
    const firstBytes = m ? Number(m[2]) : undefined;
    const v1 = liveVersion(dataDir);
    check(v1.version === '1.0.0', `apps/${APP}/current -> ${v1.release}, which holds ${APP} ${v1.version}`);
    await curl('1.0.0');
    say('');
    await toes(['config', 'get', APP, 'source']);

    heading(3, 'Change the app: version 2.0.0, committed and pushed');
    const pkg = JSON.parse(files['package.json']);
    pkg.version = '2.0.0';
    const commit2 = repo.commit({ 'package.json': JSON.stringify(pkg, null, 2) + '\n' }, 'Release 2.0.0');
    say(`package.json: "version": "1.0.0" -> "2.0.0"; new commit ${commit2.slice(0, 10)} on main.`);

    heading(4, 'Deploy again: no --from needed, and only what changed is fetched');
    const d2 = await toes(['deploy', APP, '--json']);
    const res = JSON.parse(d2.stdout) as { status: string; commit: string; bytesFetched: number };
    const v2 = liveVersion(dataDir);
    check(res.status === 'live' && res.commit === commit2, `deployed commit ${commit2.slice(0, 10)}`);
    check(v2.version === '2.0.0', `apps/${APP}/current -> ${v2.release}, which holds ${APP} ${v2.version}`);
    check(res.bytesFetched > 0, `bytesFetched: ${res.bytesFetched} bytes, the new commit's objects only`);
    if (firstBytes !== undefined) {
      check(res.bytesFetched < firstBytes, `less than the ${firstBytes} bytes of the first deploy (the store sent the old tip as a "have")`);
    }
    await curl('2.0.0');

    heading(5, 'Roll back: a rename of `current`, no fetch, no build');
    await toes(['rollback', APP]);
    const v3 = liveVersion(dataDir);
    check(v3.release === v1.release && v3.version === '1.0.0', `apps/${APP}/current -> ${v3.release} again (${APP} ${v3.version})`);
    await curl('1.0.0');

    heading(6, 'Roll forward: rollback also goes to a newer release');
    await toes(['rollback', APP, v2.release]);
    await curl('2.0.0');

    heading(7, 'A broken version 3.0.0 (it crashes on start) is rolled back by itself');
    pkg.version = '3.0.0';
    repo.commit(
      { 'package.json': JSON.stringify(pkg, null, 2) + '\n', 'index.ts': `throw new Error('version 3 cannot start');\n` + files['index.ts'] },
      'Release 3.0.0 (broken)',
    );
    await toes(['deploy', APP], true);
    await curl('2.0.0');
    check(liveVersion(dataDir).release === v2.release, `apps/${APP}/current -> ${v2.release} (2.0.0) again`);

    heading(8, 'The release log: 3.0.0 is marked bad and will not be redeployed without --force');
    await toes(['releases', APP]);

    heading(9, 'Deploy on push, through a relay: a signed webhook, no deploy command');
    say('The server sits behind NAT, so hosts post webhooks to a relay it keeps a WebSocket to.');
    say('Here both run on loopback; the relay keeps its data in its own directory.');
    const relayUrl = await startBackground(['relay', '--port', '0', '--data', path.join(tmp, 'relay')], env, tmp, path.join(tmp, 'relay.log'));
    env.REV_RELAY_URL = relayUrl;
    say(`(REV_RELAY_URL=${relayUrl} for the commands below; by default it is the public relay)`);
    const en = await run(process.execPath, [cliPath, 'webhook', 'enable', APP, '--json'], `toes webhook enable ${APP} --json`, { env, cwd: tmp, quiet: true });
    const hook = JSON.parse(en.stdout) as { url: string; secret: string };
    say(`URL to paste into rev.host: ${hook.url}`);
    say('Signing secret: whsec_… (printed in full by the command; kept out of this page)');
    await startBackground(['serve', '--port', '0'], env, tmp, path.join(tmp, 'serve.log'));
    pkg.version = '4.0.0';
    const commit4 = repo.commit({ 'package.json': JSON.stringify(pkg, null, 2) + '\n', 'index.ts': files['index.ts'] }, 'Release 4.0.0');
    say(`Pushed 4.0.0 (commit ${commit4.slice(0, 10)}); rev.host would now send this (Standard Webhooks, signed with the secret):`);
    const delivery = standard(hook.secret, { type: 'save', repo: `me/${APP}`, ref: 'refs/heads/main', commit: commit4, timestamp: new Date().toISOString() });
    say(`$ curl -X POST ${hook.url} -H 'webhook-id: ${delivery.headers['webhook-id']}' -H 'webhook-signature: v1,…' -d '${delivery.body.toString()}'`);
    const t0 = Date.now();
    const posted = await fetch(hook.url, { method: 'POST', headers: delivery.headers, body: new Uint8Array(delivery.body) });
    say(`${posted.status} ${await posted.text()}`);
    check(posted.status === 202, 'the relay stored it and answered 202');
    for (;;) {
      const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '');
      if (body.includes('"4.0.0"')) break;
      if (Date.now() - t0 > 20_000) throw new StepFailed('4.0.0 did not go live within 20 s of the webhook');
      await new Promise((r) => setTimeout(r, 50));
    }
    check(true, `4.0.0 answered ${((Date.now() - t0) / 1000).toFixed(2)} s after the webhook was posted`);
    await curl('4.0.0');
    await new Promise((r) => setTimeout(r, 400)); // the delivery log is written a few times a second
    await toes(['webhook', 'status', APP]);
    say('');
    say('What the daemon logged (one line per event):');
    for (const line of fs.readFileSync(path.join(tmp, 'serve.log'), 'utf8').split('\n').filter(Boolean)) say(`  ${line}`);
    await stopBackground();

    heading(10, 'On disk: Toes timestamp directories and the `current` symlink');
    await run('ls', ['-l', path.join(dataDir, 'apps', APP)], `ls -l $DATA_DIR/apps/${APP}`, { env, cwd: tmp });

    heading(11, 'Done');
    await server.close();
    server = undefined;
    if (keep) {
      say(`DEMO_KEEP=1: kept ${tmp}`);
      say(`  DATA_DIR=${dataDir}   (try: DATA_DIR=${dataDir} node dist/src/cli/main.js releases ${APP})`);
      say(`  the sample app's working clone: ${repo.work}`);
    } else {
      say(`Removed ${tmp} (set DEMO_KEEP=1 to keep it).`);
    }
    say(`All steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  const msg = err instanceof StepFailed ? err.message : (err as Error)?.stack ?? String(err);
  process.stderr.write(`\ndemo failed: ${msg}\n`);
  process.exitCode = 1;
});
