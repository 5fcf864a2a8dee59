// The login endpoint sheds guessing like every other endpoint: each address has a budget
// of attempts, answered 429 with retry-after once spent, while another address (a real
// user on the LAN) still logs in.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { ensureStopped, startDaemon } from '../../fixtures/hooks.js';
import { loginLink, tokenOf, type Answer } from '../../fixtures/page-login.js';
import { hookedWorld } from '../serve/hooked-world.js';

/** A login POST sent from `from`, one of this machine's loopback addresses. */
function login(base: string, token: string, from: string): Promise<Answer> {
  const u = new URL(base);
  const body = JSON.stringify({ token });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname: u.hostname, port: u.port, path: '/login', method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', 'x-toes-page': '1' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('guessing logins from one address is answered 429 with retry-after; another address still logs in', async (t) => {
  const { w } = await hookedWorld(t);
  const d = await startDaemon(w.data);
  t.after(() => ensureStopped(d));
  const guess = 'A'.repeat(43);
  const statuses: number[] = [];
  let shed: Answer | undefined;
  for (let i = 0; i < 30 && !shed; i++) {
    const a = await login(d.url, guess, '127.0.0.1');
    statuses.push(a.status);
    if (a.status === 429) shed = a;
  }
  assert.ok(shed, `never shed: ${statuses.join(' ')}`);
  assert.ok(statuses.slice(0, -1).every((s) => s === 401), statuses.join(' '));
  assert.ok(statuses.length > 5, 'a person retrying a few times must not be shed');
  assert.match(String(shed.headers['retry-after']), /^[1-9]\d*$/);
  assert.match(JSON.parse(shed.text).message, /Too many login attempts from this address; wait \d+ seconds/);
  // Shed means not even looked at: a good link from the same address is also refused, and stays usable.
  const link = await loginLink(w.data);
  assert.equal((await login(d.url, tokenOf(link), '127.0.0.1')).status, 429);
  const other = await login(d.url, tokenOf(link), '127.0.0.2');
  assert.equal(other.status, 200, other.text);
  assert.ok(d.events().some((e) => e.event === 'refused' && e.status === 429 && /too many logins/.test(e.reason)));
  assert.ok(!d.out().includes(tokenOf(link)));
});
