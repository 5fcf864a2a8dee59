import { defineCommand } from 'citty';
import { exitCodeOf } from '../../errors.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, printJson, parseSecondsFlag, shortId } from '../common.js';

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
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const { rollback } = await import('../../activate/rollback.js');
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const waitS = parseSecondsFlag(args.wait, 'wait');
      const res = await rollback({ layout, now: () => new Date() }, { app, to: args.version, trigger: 'cli', waitMs: waitS === undefined ? undefined : waitS * 1000 });
      await (await import('../../hooks/notify/background.js')).notifyAfter(layout, res, 'cli');
      if (args.json) printJson(res);
      else for (const n of res.notes ?? []) process.stderr.write(`toes: note: ${n}\n`);
      if (!res.ok) {
        process.stderr.write(`toes: ${res.error!.message}\n`);
        process.exitCode = exitCodeOf(res.error!.code);
        return;
      }
      if (args.json) return;
      if (res.unchanged) console.log(`${app} is already on release ${res.release}; nothing to do.`);
      else console.log(`${app} is live on release ${res.release} (${shortId(res.version)}), was ${res.previous ?? 'nothing'}.`);
    });
  },
});
