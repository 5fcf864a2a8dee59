// Who the relay's budgets count as the sender: the address a trusted proxy appended, and an
// IPv6 source by its /64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { senderAddress, senderGroup } from '../../../src/hooks/relay/source.js';

test('behind a trusted proxy the sender is the right-most X-Forwarded-For address; without --trust-proxy the peer', () => {
  assert.equal(senderAddress('6.6.6.6, 203.0.113.7', '10.0.0.1', true), '203.0.113.7');
  // HAProxy's option forwardfor adds its own header line after the client's.
  assert.equal(senderAddress(['6.6.6.6', '203.0.113.7'], '10.0.0.1', true), '203.0.113.7');
  assert.equal(senderAddress('203.0.113.7:5123', '10.0.0.1', true), '203.0.113.7');
  assert.equal(senderAddress('[2001:db8::1]:443', '10.0.0.1', true), '2001:db8::1');
  assert.equal(senderAddress('6.6.6.6, 203.0.113.7', '10.0.0.1', false), '10.0.0.1');
  // Nothing the proxy would write: the peer, as before.
  assert.equal(senderAddress('unknown', '10.0.0.1', true), '10.0.0.1');
  assert.equal(senderAddress(undefined, '10.0.0.1', true), '10.0.0.1');
  assert.equal(senderAddress(undefined, undefined, false), '?');
});

test('an IPv6 source counts by its /64, an IPv4 one (mapped or not) by itself', () => {
  assert.equal(senderGroup('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(senderGroup('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(senderGroup('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(senderGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(senderGroup('::1'), '0:0:0:0::/64');
  assert.equal(senderGroup('::ffff:198.51.100.7'), '198.51.100.7');
  assert.equal(senderGroup('::FFFF:198.51.100.8'), '198.51.100.8');
  assert.equal(senderGroup('198.51.100.7'), '198.51.100.7');
  assert.equal(senderGroup('?'), '?');
});
