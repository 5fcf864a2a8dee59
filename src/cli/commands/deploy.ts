import { defineCommand } from 'citty';
import { lostResult } from '../../activate/result.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, parseSecondsFlag } from '../common.js';
import { progress, progressMode } from '../progress.js';
import { report } from '../report.js';

export default defineCommand({
  meta: {
    name: 'deploy',
    description: describe('deploy', "Pull the app's source and make it live in one atomic step.", 'Examples:\n' +
      '  toes deploy my-app --from https://rev.host/me/my-app.git   first deploy (the source is saved)\n' +
      '  toes deploy my-app                                         later deploys: newest commit of the branch\n' +
      '  toes deploy my-app --ref v1.2                              a tag or another branch\n' +
      '  toes deploy my-app --from ./my-app-folder                  a directory, respecting .gitignore\n' +
      '  toes deploy my-app --progress json                         a JSON line per stage, the result last'),
  },
  args: {
    app: { type: 'positional', required: false, description: 'App name (default: name in ./package.json)' },
    from: { type: 'string', description: 'Source: git URL, .tar.gz URL, or directory (saved for next time)', valueHint: 'SRC' },
    ref: { type: 'string', description: 'Branch, tag or commit (default: the `branch` setting, else the live release\'s branch, else the default branch)', valueHint: 'REF' },
    install: { type: 'boolean', description: 'Run bun install (--no-install to skip)' },
    predeploy: { type: 'boolean', description: 'Run scripts.predeploy (--no-predeploy to skip)' },
    force: { type: 'boolean', description: 'Build again even if this version already has a release' },
    'dry-run': { type: 'boolean', description: 'Fetch and say what would be deployed and what the new release lacks; make no release' },
    wait: { type: 'string', description: 'Seconds to wait for a running deploy of the same app (default 600)', valueHint: 'SECONDS' },
    progress: { type: 'string', description: 'text (stage lines on stderr; the default at a terminal), json (a JSON line per event on stdout, the result last) or none', valueHint: 'text|json|none' },
    verbose: { type: 'boolean', alias: 'v', description: 'Stream install and predeploy output' },
    ...commonArgs,
  },
  async run({ args }) {
    let app = '';
    await act(args, async () => {
      const { deploy } = await import('../../activate/deploy.js');
      const mode = progressMode(args.progress, !!args.json);
      const layout = layoutFrom(args);
      app = appFrom(args.app);
      const waitS = parseSecondsFlag(args.wait, 'wait');
      const notify = await import('../../hooks/notify/background.js');
      // A dry run deploys nothing: no events, no commit status.
      const dry = !!args['dry-run'];
      if (!dry) await notify.notifyStarted(layout, app, 'cli');
      const res = await deploy(
        { layout, now: () => new Date(), events: progress(mode, !!args.verbose) },
        {
          app,
          from: args.from,
          ref: args.ref,
          install: args.install,
          predeploy: args.predeploy,
          force: args.force,
          dryRun: dry,
          trigger: 'cli',
          waitMs: waitS === undefined ? undefined : waitS * 1000,
        },
      );
      if (!dry) await notify.notifyAfter(layout, res, 'cli');
      report(res, !!args.json, mode);
    }, (error) => lostResult('deploy', app, error.code, error.message));
  },
});
