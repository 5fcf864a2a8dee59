// One way to print text from outside (src/printable.ts): control characters that could
// rewrite a terminal (ESC, BEL, C1, DEL) or reorder it (bidi overrides and isolates) are
// escaped on every path a name, ref, path or message takes to a terminal or a log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { eventLog } from '../src/hooks/common/event-log.js';
import { html } from '../src/hooks/page/html.js';
import { printable, printableJson } from '../src/printable.js';
import { run, tmpDir } from './fixtures/cli.js';
import { ensureStopped, post, standard, startDaemon, type Daemon } from './fixtures/hooks.js';
import { makeWorld } from './fixtures/world.js';

/** ESC sequences (a colour, a window title ending in BEL), C1 CSI, DEL, a bidi override and an isolate. */
const HOSTILE = 'a\x1b[31mred\x1b]0;pwned\x07\x9b2J\x7f\u202egnp.exe\u2066x\u2069';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const clean = (text: string, what: string) => assert.doesNotMatch(text, RAW, `${what} printed a raw control character: ${JSON.stringify(text)}`);

test('printable escapes every control, once: escaped text is left as it is', () => {
  const out = printable(HOSTILE);
  assert.equal(out, 'a\\x1b[31mred\\x1b]0;pwned\\x07\\x9b2J\\x7f\\u202egnp.exe\\u2066x\\u2069');
  assert.equal(printable(out), out);
  assert.equal(printable('line one\n\tline two\x1b', { lines: true }), 'line one\n\tline two\\x1b');
  assert.equal(printable('x'.repeat(300), { max: 10 }), 'xxxxxxxxxx… (300 characters)');
  assert.equal(printable('plain name-1.0_x'), 'plain name-1.0_x');
});

test('printableJson is the same value as JSON.stringify, with nothing raw in it', () => {
  const value = { ref: HOSTILE, n: 1, nested: [HOSTILE] };
  const text = printableJson(value);
  clean(text, 'printableJson');
  assert.deepEqual(JSON.parse(text), value);
});

test("the daemon's log escapes them, as text and as JSON lines", async () => {
  for (const json of [false, true]) {
    const out = new PassThrough();
    let written = '';
    out.on('data', (d) => (written += d));
    const log = eventLog(out, json);
    log('ignored', { app: 'sample', reason: `a push to refs/heads/${HOSTILE} does not deploy sample` });
    log.flush();
    await new Promise((r) => setImmediate(r));
    clean(written, json ? 'the JSON log' : 'the text log');
    if (json) assert.match(JSON.parse(written).reason, /\u202e/);
  }
});

test("the page's HTML escapes them in every value it shows", () => {
  const out = html`<td>${HOSTILE}</td><input value="${`main${HOSTILE}`}">`.toString();
  clean(out, 'the page');
  assert.match(out, /<td>a\\x1b\[31mred/);
});

test('an invalid app name and a setting from the command line are echoed escaped', async (t) => {
  const data = tmpDir();
  t.after(() => fs.rmSync(data, { recursive: true, force: true }));
  for (const args of [['deploy', HOSTILE], ['releases', HOSTILE], ['config', 'set', HOSTILE, 'keep', '3']]) {
    const r = await run(data, args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is not a valid app name/);
    clean(r.stderr + r.stdout, args[0]);
  }
  // git allows no control character in a branch name: refused, and echoed escaped.
  const refused = await run(data, ['config', 'set', 'sample', 'branch', `main${HOSTILE}`]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /is not a valid value for branch: git does not allow it as a branch or tag name/);
  clean(refused.stdout + refused.stderr, 'config set branch (refused)');
  // Bidi controls it allows: stored as given, printed escaped.
  const BIDI = '\u202egnp.exe\u2066x\u2069';
  const set = await run(data, ['config', 'set', 'sample', 'branch', `main${BIDI}`]);
  assert.equal(set.code, 0, set.stderr);
  clean(set.stdout + set.stderr, 'config set branch');
  for (const args of [['config', 'list', 'sample'], ['config', 'get', 'sample', 'branch']]) {
    const r = await run(data, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /main/);
    clean(r.stdout, args.join(' '));
  }
  // --json gives the value as stored: a program decodes it.
  assert.equal((await run(data, ['config', 'get', 'sample', 'branch', '--json'])).json().value, `main${BIDI}`);
  const unknownCommand = await run(data, [HOSTILE]);
  assert.equal(unknownCommand.code, 2);
  clean(unknownCommand.stderr, 'an unknown command');
});

test('the "ref does not exist" error and the ref of a signed push in `webhook status` are escaped', async (t) => {
  const w = await makeWorld();
  t.after(() => w.close());
  const first = await w.toes(['deploy', 'sample', '--from', w.url, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const missing = await w.toes(['deploy', 'sample', '--ref', `v${HOSTILE}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  clean(missing.stderr + missing.stdout, 'the ref error');

  const secret = (await w.toes(['webhook', 'enable', 'sample', '--json'])).json().secret;
  let d: Daemon | undefined;
  t.after(() => ensureStopped(d));
  d = await startDaemon(w.data);
  const ref = `refs/heads/${HOSTILE}`;
  const r = await post(d.url, '/hooks/sample', standard(secret, { type: 'save', repo: 'me/sample', ref, timestamp: new Date().toISOString() }));
  assert.deepEqual([r.status, r.body.outcome], [202, 'ignored']);
  await d.waitFor((e) => e.event === 'ignored', 'the push logged as ignored');
  clean(d.out(), 'the daemon log');
  // The delivery log is written a few times a second: wait until it holds the push.
  for (let i = 0; i < 100 && !(await w.toes(['webhook', 'status', 'sample', '--json'])).json().deliveries.length; i++) await new Promise((r) => setTimeout(r, 100));
  const st = await w.toes(['webhook', 'status', 'sample']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /ignored/);
  assert.match(st.stdout, /\\x1b\[31mred/);
  clean(st.stdout, 'webhook status');
});
