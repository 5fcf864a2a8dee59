// A sender's standing with an instance, from the instance's verdicts (the relay's budgets).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from '../../../src/hooks/relay/limits.js';
import { SenderBudget } from '../../../src/hooks/relay/senders.js';

const I = 'inst0000';
const MIN = 60_000;

test('refusals move a source to the small shared budget, then refuse it outright; both fade; other sources keep the whole rate', () => {
  const rate = new RateLimiter(10, 40);
  const b = new SenderBudget(rate, 1);
  const t0 = 1_000_000;
  for (let i = 0; i < 40; i++) assert.equal(b.take(I, 'junk', t0), undefined); // clean: the instance's whole burst
  assert.ok(b.take(I, 'real', t0)); // ...which junk used up, for now
  // Each refusal gives its token back: the real sender gets in again at once.
  for (let i = 0; i < 2; i++) b.verdict(I, 'junk', false, t0);
  assert.equal(b.standing(I, 'junk', t0), 'suspect');
  assert.equal(b.take(I, 'real', t0), undefined);
  for (let i = 0; i < 6; i++) b.verdict(I, 'junk', false, t0);
  assert.equal(b.standing(I, 'junk', t0), 'banned');
  const banned = b.take(I, 'junk', t0);
  assert.equal(banned?.banned, true);
  assert.ok(banned!.retryAfter >= 1);
  for (let i = 0; i < 30; i++) b.verdict(I, 'junk', false, t0);
  // The rest of junk's tokens came back with its refusals: the real sender has the whole rate.
  let real = 0;
  while (b.take(I, 'real', t0) === undefined) real++;
  assert.equal(real, 37);
  // Ten minutes halve the refusals: 38 -> 19 -> ... -> under the ban, then under suspicion.
  assert.equal(b.standing(I, 'junk', t0 + 20 * MIN), 'banned');
  assert.equal(b.standing(I, 'junk', t0 + 30 * MIN), 'suspect');
  assert.equal(b.standing(I, 'junk', t0 + 60 * MIN), 'clean');
  // Another instance never heard of it.
  assert.equal(b.standing('inst1111', 'junk', t0), 'clean');
});

test('a suspect source shares a small bucket; a source that also delivers real webhooks is never refused outright', () => {
  const b = new SenderBudget(new RateLimiter(1000, 4000), 1);
  const t0 = 5_000_000;
  for (let i = 0; i < 3; i++) b.verdict(I, 'a', false, t0);
  for (let i = 0; i < 3; i++) b.verdict(I, 'b', false, t0);
  let through = 0;
  for (let i = 0; i < 20; i++) if (b.take(I, i % 2 ? 'a' : 'b', t0) === undefined) through++;
  assert.equal(through, 5); // the shared burst
  // A forge's address: refused for one app's stale secret, accepted for the others.
  for (let i = 0; i < 20; i++) b.verdict(I, 'forge', false, t0);
  for (let i = 0; i < 5; i++) b.verdict(I, 'forge', true, t0);
  assert.equal(b.standing(I, 'forge', t0), 'clean');
  b.verdict(I, 'forge', false, t0);
  assert.equal(b.standing(I, 'forge', t0), 'suspect');
});

test('a table filled from many addresses gives up their records first: real senders keep their credit, banned sources stay banned', () => {
  const b = new SenderBudget(new RateLimiter(1e9, 1e9), 1, 1000);
  const t0 = 9_000_000;
  for (let i = 0; i < 10; i++) b.verdict(I, 'forge', true, t0);
  for (let i = 0; i < 8; i++) b.verdict(I, 'bad', false, t0);
  // An attacker with many addresses: each sends junk that is refused once or twice.
  for (let i = 0; i < 5000; i++) {
    assert.equal(b.take(I, `junk${i}`, t0), undefined);
    b.verdict(I, `junk${i}`, false, t0);
    if (i % 2) b.verdict(I, `junk${i}`, false, t0);
  }
  assert.equal(b.standing(I, 'bad', t0), 'banned');
  // Junk pointed at the forge's address does not make it suspect: its accepted ones still count.
  for (let i = 0; i < 3; i++) b.verdict(I, 'forge', false, t0);
  assert.equal(b.standing(I, 'forge', t0), 'clean');
});
