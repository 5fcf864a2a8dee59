// What the CLI prints, for people and for programs: exit 2 for a wrong command line, help
// listing every command, without colour when piped and with the global options once, stage
// lines in plain words, --progress json, one result shape for every failure, and `supervisor
// none` said plainly.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { CONFIG_KEYS } from '../../src/releases/settings/schema.js';
import { acquireLock } from '../../src/releases/lock.js';
import { run, startUntil, tmpDir } from '../fixtures/cli.js';
import { makeWorld } from '../fixtures/world.js';

const ANSI = /\x1b\[/;

function dataDir(t: { after(fn: () => void): void }): string {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  return data;
}

test('a wrong command line exits 2 with one sentence, and changes nothing', async (t) => {
  const data = dataDir(t);
  const bare = await run(data, []);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /USAGE toes/);
  const cases: [string[], RegExp][] = [
    [['frob'], /^toes: "frob" is not a command; use one of deploy, .*\n$/],
    [['deploy', 'sample', '--form', 'x'], /^toes: --form is not an option of `toes deploy`; see `toes deploy --help`\.\n$/],
    [['config', 'set', 'sample', 'keep', '3', '-x'], /^toes: -x is not an option of `toes config set`/],
    [['config', 'frob', 'sample'], /^toes: "frob" is not an action of `toes config`; use one of set, get, unset, list/],
    [['webhook', 'frob'], /is not an action of `toes webhook`/],
    [['deploy', 'sample', '--progress', 'loud'], /^toes: --progress takes text, json or none, not "loud"\.\n$/],
    [['relay', '--nats', 'nats://ops:hunter2@10.0.0.1:4222'], /^toes: --nats URLs must not carry credentials .*--nats-creds FILE\)\.\n$/],
    [['relay', '--nats', 'http://10.0.0.1:4222'], /^toes: --nats takes nats:\/\/ or tls:\/\/ URLs, not http:\/\/\.\n$/],
  ];
  for (const [args, says] of cases) {
    const r = await run(data, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, says, args.join(' '));
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/, 'a password on the command line is never echoed');
  }
  // A wrong command line that asked for JSON gets its failure as JSON too.
  const json = await run(data, ['deploy', 'sample', '--form', 'x', '--json']);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.stdout), { ok: false, error: { code: 'USAGE', message: '--form is not an option of `toes deploy`; see `toes deploy --help`.' } });
  const lines = await run(data, ['frob', '--progress', 'json']);
  assert.equal(lines.code, 2);
  assert.deepEqual(lines.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)), [{ event: 'result', ok: false, error: { code: 'USAGE', message: lines.stderr.replace(/^toes: /, '').trimEnd() } }]);
  // A flag's value that starts with "-" is a value, not a flag.
  const dashed = await run(data, ['deploy', 'sample', '--ref', '-wip']);
  assert.doesNotMatch(dashed.stderr, /is not an option/);
  assert.equal(dashed.code, 1, dashed.stderr);
  assert.deepEqual(fs.readdirSync(data).filter((n) => n !== 'rev'), []);
  assert.ok(!fs.existsSync(`${data}/rev/apps/sample`), 'nothing written for the app');
});

test('help: every command listed, no colour when piped, global options once, accepted values and defaults, no version glued on', async (t) => {
  const data = dataDir(t);
  const root = await run(data, ['--help']);
  assert.equal(root.code, 0);
  assert.doesNotMatch(root.stdout, ANSI);
  for (const flag of ['--data-dir', '--apps-dir', '--toes-dir', '--toes-url']) assert.equal(root.stdout.split(flag).length - 1, 1, `${flag} once in toes --help`);
  for (const c of ['deploy', 'rollback', 'releases', 'env', 'config']) assert.match(root.stdout, new RegExp(c));
  const deploy = await run(data, ['deploy', '--help']);
  assert.equal(deploy.code, 0);
  assert.doesNotMatch(deploy.stdout, /--toes-dir=/);
  assert.match(deploy.stdout, /--progress=<text\|json\|none>/);
  assert.doesNotMatch(deploy.stdout, /\(toes deploy v?[\d.]*\)/);
  assert.match(deploy.stdout, /--from/);
  assert.match(deploy.stdout, /Examples:\n/);
  const config = await run(data, ['config', '--help']);
  assert.match(config.stdout, /supervisor +how the app is restarted after a swap; one of toes, command, signal, none \(default: /);
  for (const key of Object.keys(CONFIG_KEYS)) assert.match(config.stdout, new RegExp(`^  ${key.replace('.', '\\.')} `, 'm'), key);
  const set = await run(data, ['config', 'set', '--help']);
  assert.match(set.stdout, /one of toes, command, signal, none/);
  // NO_COLOR wins even where colour would be on: checked through the one function.
  const { colour } = await import('../../src/cli/root.js');
  const saved = process.env.NO_COLOR;
  process.env.NO_COLOR = '1';
  try {
    assert.equal(colour(), false);
  } finally {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  }
});

test('env, config, webhook and notify are subcommands; flags may come before the action', async (t) => {
  const data = dataDir(t);
  assert.equal((await run(data, ['config', '--json', 'set', 'sample', 'keep', '3'])).code, 0);
  assert.deepEqual((await run(data, ['config', 'list', 'sample', '--json'])).json(), { keep: 3 });
  assert.equal((await run(data, ['env', 'set', '-g', 'API_URL', 'https://x.example'])).code, 0);
  assert.equal((await run(data, ['env', 'get', '-g', 'API_URL'])).stdout, 'https://x.example\n');
  const status = await run(data, ['webhook', 'sample']);
  assert.equal(status.code, 2, 'an app is not an action');
  const byDefault = await run(data, ['webhook', '--json'], { cwd: data, env: {} });
  assert.equal(byDefault.code, 2, byDefault.stderr); // status, but no app here
  assert.match(byDefault.stderr, /No app given/);
  // notify too: each action has its own usage, and a word that is none is refused as one.
  assert.match((await run(data, ['notify', 'add', '--help'])).stdout, /^USAGE toes notify add \[OPTIONS\] \[APP\] \[URL\]$/m);
  const frob = await run(data, ['notify', 'frob', 'sample']);
  assert.equal(frob.code, 2);
  assert.match(frob.stderr, /^toes: "frob" is not an action of `toes notify`; use one of add, list, remove, test/);
  assert.deepEqual((await run(data, ['notify', '-g', '--json'])).json(), [], 'list by default');
});

test('--progress json: a line per stage start and end, the result last; text: stage lines in plain words', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const r = await w.toes(['deploy', 'sample', '--from', w.url, '--progress', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  const last = lines.pop();
  assert.equal(last.event, 'result');
  assert.deepEqual([last.ok, last.app, last.status, last.restarted], [true, 'sample', 'live', false]);
  const started = lines.filter((l) => l.event === 'stage' && l.state === 'start').map((l) => l.stage);
  const ended = lines.filter((l) => l.event === 'stage' && l.state !== 'start').map((l) => l.stage);
  assert.deepEqual(ended, last.stages.map((s: { name: string }) => s.name));
  assert.deepEqual(started, last.stages.filter((s: { skipped?: boolean }) => !s.skipped).map((s: { name: string }) => s.name));
  assert.equal(started[0], 'settings');
  const says = Object.fromEntries(lines.filter((l) => l.state === 'start').map((l) => [l.stage, l.says]));
  assert.match(says.probe, /^asking 127\.0\.0\.1:\d+ for /);
  assert.match(says.materialize, /^linking [\d,]+ files$/);
  assert.equal(says.verify, 'not restarting (supervisor none)');

  w.repo.commit({ VERSION: 'v2\n' });
  const text = await w.toes(['deploy', 'sample', '--progress', 'text']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stderr, /^ +\d+\.\ds {2}asking 127\.0\.0\.1:\d+ for /m);
  assert.match(text.stderr, /^ +\d+\.\ds {2}linking [\d,]+ files$/m);
  assert.doesNotMatch(text.stderr, /\b(probe|relink|seal)\b/);
  assert.doesNotMatch(text.stderr + text.stdout, ANSI);
  // supervisor none: not "is live", but what was not done and how to set one up.
  assert.doesNotMatch(text.stdout, /is live/);
  assert.match(text.stdout, /was not restarted \(supervisor none\).*toes config set sample supervisor toes/);
});

test('one result shape for every failure: a bad setting fails in the flow, a bad flag before it', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  assert.equal((await w.toes(['deploy', 'sample', '--from', w.url])).code, 0);
  const saved = fs.readFileSync(w.layout.appConfig('sample'), 'utf8');
  fs.writeFileSync(w.layout.appConfig('sample'), `${saved.trim()},`);
  for (const op of ['deploy', 'rollback']) {
    const r = await w.toes([op, 'sample', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const res = r.json();
    assert.deepEqual([res.ok, res.op, res.app, res.status, res.failedStage, res.error.code], [false, op, 'sample', 'failed', 'settings', 'BAD_CONFIG'], r.stdout);
    assert.deepEqual(res.stages, []);
    assert.match(r.stderr, /^toes: .*config\.json is not valid JSON; fix or remove it\.$/m);
  }
  fs.writeFileSync(w.layout.appConfig('sample'), saved);
  const flag = await w.toes(['deploy', 'sample', '--wait', 'soon', '--json']);
  assert.equal(flag.code, 2);
  const res = flag.json();
  assert.deepEqual([res.ok, res.op, res.app, res.status, res.error.code], [false, 'deploy', 'sample', 'failed', 'USAGE']);
  const lines = await w.toes(['deploy', 'sample', '--wait', 'soon', '--progress', 'json']);
  assert.equal(JSON.parse(lines.stdout.trim().split('\n').pop()!).event, 'result');
});

test("a wait for the app's lock is said without --verbose; a build's output only with it, whatever its words", async (t) => {
  const pkg = JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { predeploy: 'echo "waiting for the lock of the printer"' } });
  const w = await makeWorld({ files: { 'package.json': pkg, 'index.ts': 'export {};\n' } });
  t.after(() => w.close());
  const built = await w.toes(['deploy', 'sample', '--from', w.url, '--no-install', '--progress', 'text']);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /running predeploy/);
  assert.doesNotMatch(built.stderr, /printer/);
  const verbose = await w.toes(['deploy', 'sample', '--force', '--no-install', '--progress', 'text', '--verbose']);
  assert.match(verbose.stderr, /waiting for the lock of the printer/);

  const lock = await acquireLock(w.layout.lockDir('sample'), { command: 'a test', waitMs: 0 });
  const waiting = startUntil(w.data, ['deploy', 'sample', '--progress', 'text'], 'waiting for the lock held by a test');
  await waiting.reached;
  await lock.release();
  await waiting.closed;
  assert.equal(waiting.child.exitCode, 0, waiting.stderr());
});

test("a result's warnings are printed on stderr before its last line", async () => {
  const { report } = await import('../../src/cli/report.js');
  const res = { ok: true, op: 'deploy' as const, app: 'blog', release: '20261206-010203', version: 'a'.repeat(40), status: 'live' as const, restarted: true, stages: [], durationMs: 5, warnings: ['the live release had .env, which the new one lacks'] };
  const printed: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (where: string) => ((chunk: string) => void printed.push(`${where}:${chunk}`)) as unknown as typeof process.stdout.write;
  process.stdout.write = capture('out');
  process.stderr.write = capture('err');
  try {
    report(res, false, 'none');
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  assert.equal(printed.length, 2, printed.join(''));
  assert.ok(printed[0].startsWith('err:toes: warning: the live release had .env'), printed[0]);
  assert.ok(printed[1].startsWith('out:blog is live: release 20261206-010203'), printed[1]);
});
