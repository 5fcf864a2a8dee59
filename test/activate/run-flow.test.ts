// The runner itself, with stages written here: what it records, and what it reports when
// a stage fails and the cleanup after it fails too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RevError } from '../../src/errors.js';
import { runFlow, type FlowHooks, type Stage } from '../../src/activate/run-flow.js';

interface Ctx {
  ran: string[];
  skipped: string[];
  finished: boolean;
}

function hooks(failed: FlowHooks<Ctx>['failed']): FlowHooks<Ctx> {
  return {
    failed,
    async finally(c) {
      c.finished = true;
    },
    result: () => ({ op: 'deploy', app: 'sample', status: 'live' }),
    skipped(c, stage, reason) {
      c.skipped.push(`${stage}: ${reason}`);
    },
  };
}

const step = (name: string): Stage<Ctx> => ({ name, run: async (c) => void c.ran.push(name) });

test('a skipped stage is recorded as skipped, with its reason, and never run', async () => {
  const c: Ctx = { ran: [], skipped: [], finished: false };
  const res = await runFlow([step('resolve'), { ...step('install'), skip: () => 'no dependencies' }, step('seal')], c, hooks(async () => {}));
  assert.equal(res.ok, true);
  assert.deepEqual(c.ran, ['resolve', 'seal']);
  assert.deepEqual(
    res.stages.map((s) => [s.name, !!s.skipped, s.reason]),
    [
      ['resolve', false, undefined],
      ['install', true, 'no dependencies'],
      ['seal', false, undefined],
    ],
  );
  assert.deepEqual(c.skipped, ['install: no dependencies']);
  assert.equal(c.finished, true);
});

test('when the failed hook itself throws, the original error is reported and finally still runs', async () => {
  const c: Ctx = { ran: [], skipped: [], finished: false };
  const boom: Stage<Ctx> = {
    name: 'predeploy',
    run: async () => {
      throw new RevError('BUILD_FAILED', 'predeploy exited with code 3', { data: { logTail: 'type error' } });
    },
  };
  let cleanup = 0;
  const res = await runFlow([step('begin'), boom, step('seal')], c, hooks(async (_c, err, stage) => {
    cleanup++;
    assert.equal(err.code, 'BUILD_FAILED');
    assert.equal(stage, 'predeploy');
    throw new Error('the disk went away during cleanup');
  }));
  assert.equal(cleanup, 1);
  assert.equal(res.ok, false);
  assert.equal(res.status, 'failed');
  assert.equal(res.failedStage, 'predeploy');
  assert.deepEqual(res.error, { code: 'BUILD_FAILED', message: 'predeploy exited with code 3', logTail: 'type error' });
  assert.deepEqual(res.stages.map((s) => s.name), ['begin']);
  assert.deepEqual(c.ran, ['begin']);
  assert.equal(c.finished, true);
});

test('an error that is not a RevError is reported as INTERNAL, naming it', async () => {
  const c: Ctx = { ran: [], skipped: [], finished: false };
  const res = await runFlow([{ name: 'probe', run: async () => void JSON.parse('{') }], c, hooks(async () => {}));
  assert.equal(res.error?.code, 'INTERNAL');
  assert.match(res.error?.message ?? '', /^Unexpected error while deploying: .*JSON.*a bug in toes-rev/);
  assert.equal(c.finished, true);
});
