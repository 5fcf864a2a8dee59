import { defineCommand } from 'citty';
import { lostResult } from '../../activate/result.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, parseSecondsFlag } from '../common.js';
import { progress, progressMode } from '../progress.js';
import { report } from '../report.js';

export default defineCommand({
  meta: {
    name: 'rollback',
    description: describe('rollback', 'Flip current back to the previous good release, or to VERSION (older or newer).', 'Examples:\n' +
      '  toes rollback my-app                   back to the release before the live one\n' +
      '  toes rollback my-app 20261128-163000   to that release (a release id, commit or prefix)'),
  },
  args: {
    app: { type: 'positional', required: false, description: 'App name (default: name in ./package.json)' },
    version: { type: 'positional', required: false, description: 'Release id, version or commit (or a prefix of one)' },
    wait: { type: 'string', description: 'Seconds to wait for a running deploy of the same app (default 600)', valueHint: 'SECONDS' },
    progress: { type: 'string', description: 'text (stage lines on stderr), json (a JSON line per event on stdout, the result last) or none (the default)', valueHint: 'text|json|none' },
    ...commonArgs,
  },
  async run({ args }) {
    let app = '';
    await act(args, async () => {
      const { rollback } = await import('../../activate/rollback.js');
      // A rollback takes milliseconds: stage lines only when asked for.
      const mode = args.progress === undefined ? 'none' : progressMode(args.progress, !!args.json);
      const layout = layoutFrom(args);
      app = appFrom(args.app);
      const waitS = parseSecondsFlag(args.wait, 'wait');
      const res = await rollback({ layout, now: () => new Date(), events: progress(mode, false) }, { app, to: args.version, trigger: 'cli', waitMs: waitS === undefined ? undefined : waitS * 1000 });
      const { rollbackIsQuiet } = await import('../../hooks/notify/quiet.js');
      if (!(await rollbackIsQuiet(layout, app))) await (await import('../../hooks/notify/background.js')).notifyAfter(layout, res, 'cli');
      report(res, !!args.json, mode);
    }, (error) => lostResult('rollback', app, error.code, error.message));
  },
});
