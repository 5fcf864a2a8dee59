// Every failure names its real cause and the next step with the app's real name: no
// `<app>` left in a sentence, no runtime noise such as "(TypeError)".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { APP_PLACEHOLDER, RevError, naming } from '../../src/errors.js';
import { projectRoot, run, tmpDir } from '../fixtures/cli.js';
import { makeWorld } from '../fixtures/world.js';

/** What a sentence must never hold: the placeholder, or an error class in brackets. */
function assertTold(text: string, what: string): void {
  assert.ok(!text.includes(APP_PLACEHOLDER), `${what}: "${APP_PLACEHOLDER}" left in: ${text}`);
  assert.doesNotMatch(text, /\((?:[A-Z][a-z]+)*(?:Error|Exception)\)/, `${what}: runtime noise in: ${text}`);
}

test('naming fills the app in, or -g where the command had no app, and keeps the code and data', () => {
  const err = new RevError('DISK_FULL', `free some space (\`toes config set ${APP_PLACEHOLDER} keep N\`)`, { data: { stage: 'fetch' } });
  const named = naming(err, 'blog');
  assert.equal(named.message, 'free some space (`toes config set blog keep N`)');
  assert.deepEqual([named.code, named.data], ['DISK_FULL', { stage: 'fetch', app: 'blog' }]);
  assert.equal(naming(err, undefined).message, 'free some space (`toes config set -g keep N`)');
  const plain = new RevError('USAGE', 'nothing to fill');
  assert.equal(naming(plain, undefined), plain);
});

/** Each `new RevError(...)` call's text in src/, with its file. */
function revErrorCalls(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const src = fs.readFileSync(p, 'utf8');
        for (let i = src.indexOf('new RevError('); i !== -1; i = src.indexOf('new RevError(', i + 1)) {
          out.push({ file: path.relative(projectRoot, p), text: src.slice(i, src.indexOf('\n', src.indexOf(');', i)) + 1) });
        }
      }
    }
  };
  walk(path.join(projectRoot, 'src'));
  return out;
}

test("no error sentence in src/ puts an error's class name in it (the source of \"(TypeError)\")", () => {
  const calls = revErrorCalls();
  assert.ok(calls.length > 100, `found ${calls.length} RevErrors`);
  for (const { file, text } of calls) {
    assert.doesNotMatch(text, /\$\{[^}]*(?:\(err(?:or)? as Error\)|\berr|\be)\.name\b[^}]*\}/, `${file}: ${text}`);
    assert.doesNotMatch(text, /constructor\.name/, `${file}: ${text}`);
  }
  // And the sentences that name `<app>` are filled where they surface (see below).
  assert.ok(calls.some((c) => c.text.includes(APP_PLACEHOLDER)));
});

test('failures through the CLI name the app and the next step: 401, ref, restart command, credentials in a URL, disk', async (t) => {
  const w = await makeWorld({ token: 'sekret-token' });
  t.after(() => w.close());
  const table: { args: string[]; env?: Record<string, string>; code: string; says: RegExp }[] = [
    { args: ['deploy', 'sample', '--from', w.url, '--json'], code: 'AUTH', says: /toes env set sample REV_TOKEN/ },
    { args: ['config', 'set', 'sample', 'source', 'https://me:pw@example.com/a.git', '--json'], code: 'USAGE', says: /toes env set sample REV_TOKEN/ },
    { args: ['config', 'set', '-g', 'source', 'https://me:pw@example.com/a.git', '--json'], code: 'USAGE', says: /toes env set -g REV_TOKEN/ },
  ];
  for (const { args, env, code, says } of table) {
    const r = await w.toes(args, { env });
    const what = args.join(' ');
    assert.equal(r.json().error?.code, code, `${what}: ${r.stdout}`);
    assert.match(r.json().error.message, says, what);
    assertTold(r.stdout + r.stderr, what);
  }

  // With the token, a ref that does not exist and a restart command that cannot be parsed.
  assert.equal((await w.toes(['env', 'set', 'sample', 'REV_TOKEN'], { input: 'sekret-token\n' })).code, 0);
  const ref = await w.toes(['deploy', 'sample', '--from', w.url, '--ref', 'nosuch', '--json']);
  assert.equal(ref.json().error.code, 'REF_NOT_FOUND', ref.stdout);
  assert.match(ref.json().error.message, /toes config set sample branch NAME/);
  assertTold(ref.stdout + ref.stderr, 'a ref that does not exist');
  await w.toes(['config', 'set', 'sample', 'supervisor', 'command']);
  await w.toes(['config', 'set', 'sample', 'restart', "systemctl restart 'oops"]);
  const restart = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(restart.json().error.code, 'BAD_CONFIG', restart.stdout);
  assert.match(restart.json().error.message, /toes config set sample restart/);
  assertTold(restart.stdout + restart.stderr, 'a bad restart command');
});

test('a relay that cannot be reached is named with the system\'s reason, not the runtime\'s error class', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  const r = await run(data, ['webhook', 'enable', 'sample'], { env: { REV_RELAY_URL: 'http://127.0.0.1:9' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Could not reach the relay at http:\/\/127\.0\.0\.1:9 \(\w+/);
  assertTold(r.stderr, 'the relay note');
});

test('a failed build names the app and where its deploy log is, also where no log follows', async (t) => {
  const pkg = JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { predeploy: 'echo compiling; echo "type error in index.ts" >&2; exit 3' } });
  const w = await makeWorld({ files: { 'package.json': pkg, 'index.ts': 'export {};\n' } });
  t.after(() => w.close());
  const human = await w.toes(['deploy', 'sample', '--from', w.url]);
  assert.equal(human.code, 1);
  assert.match(human.stderr, /^toes: predeploy of sample exited with code 3; see the deploy log of release \d{8}-\d{6}, fix the app and deploy again\.\n--- last lines of the deploy log \(.*\) ---\n[^]*type error in index\.ts/);
  const json = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(json.json().error.code, 'BUILD_FAILED');
  assert.doesNotMatch(json.stderr, /see the log below/);
  assert.match(json.stderr, /see the deploy log of release \d{8}-\d{6}/);
  // Where the failure is read later, with no log after it: the same sentence.
  const status = await w.toes(['webhook', 'status', 'sample']);
  assert.match(status.stdout, /predeploy of sample exited with code 3; see the deploy log of release \d{8}-\d{6}, fix the app/);
  assert.doesNotMatch(status.stdout, /log below/);
  assertTold(json.stderr, 'a failed predeploy');
});
