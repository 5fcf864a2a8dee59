// The defences around the settings page's login: this machine and its local network, not
// the internet; actions only from the page itself.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { fromThePage, localPeer } from '../../../src/hooks/page/guard.js';

test('the page answers loopback and private addresses only', () => {
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.1.2.3', '192.168.1.20', '172.16.0.5', '172.31.255.1', '169.254.3.4', 'fd12:3456::1', 'fe80::1']) assert.equal(localPeer(a), true, a);
  for (const a of ['8.8.8.8', '172.32.0.1', '11.0.0.1', '2001:db8::1', '::ffff:1.2.3.4', '', undefined]) assert.equal(localPeer(a), false, String(a));
});

test('an action counts as the page\'s only as same-origin JSON with x-toes-page', () => {
  const req = (headers: Record<string, string>) => ({ headers: { host: 'toes.local:7420', ...headers } }) as unknown as IncomingMessage;
  const page = { 'content-type': 'application/json', 'x-toes-page': '1' };
  assert.equal(fromThePage(req(page)), true);
  assert.equal(fromThePage(req({ ...page, origin: 'http://toes.local:7420' })), true);
  assert.equal(fromThePage(req({ ...page, origin: 'https://toes.local:7420' })), true);
  assert.equal(fromThePage(req({ ...page, origin: 'http://evil.example' })), false);
  assert.equal(fromThePage(req({ ...page, 'x-toes-page': '' })), false);
  assert.equal(fromThePage(req({ ...page, 'content-type': 'text/plain' })), false);
});
