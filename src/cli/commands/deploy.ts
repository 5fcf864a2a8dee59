import { defineCommand } from 'citty';
import { exitCodeOf } from '../../errors.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, printJson, parseSecondsFlag, shortId } from '../common.js';
import { progress } from '../progress.js';

export default defineCommand({
  meta: {
    name: 'deploy',
    description: describe('deploy', "Pull the app's source and make it live in one atomic step.", 'Examples:\n' +
      '  toes deploy my-app --from https://rev.host/me/my-app.git   first deploy (the source is saved)\n' +
      '  toes deploy my-app                                         later deploys: newest commit of the branch\n' +
      '  toes deploy my-app --ref v1.2                              a tag or another branch\n' +
      '  toes deploy my-app --from ./my-app-folder                  a directory, respecting .gitignore'),
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
    verbose: { type: 'boolean', alias: 'v', description: 'Stream install and predeploy output' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const { deploy } = await import('../../activate/deploy.js');
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const waitS = parseSecondsFlag(args.wait, 'wait');
      const notify = await import('../../hooks/notify/background.js');
      await notify.notifyStarted(layout, app, 'cli');
      const res = await deploy(
        { layout, now: () => new Date(), events: progress(!args.json && !!process.stderr.isTTY, !!args.verbose) },
        {
          app,
          from: args.from,
          ref: args.ref,
          install: args.install,
          predeploy: args.predeploy,
          force: args.force,
          dryRun: args['dry-run'],
          trigger: 'cli',
          waitMs: waitS === undefined ? undefined : waitS * 1000,
        },
      );
      await notify.notifyAfter(layout, res, 'cli');
      if (args.json) printJson(res);
      else for (const n of res.notes ?? []) process.stderr.write(`toes: note: ${n}\n`);
      if (!res.ok) {
        process.stderr.write(`toes: ${res.error!.message}\n`);
        if (res.error!.logTail && !args.json) process.stderr.write(`--- last lines of the deploy log (${res.log}) ---\n${res.error!.logTail}\n`);
        process.exitCode = exitCodeOf(res.error!.code);
        return;
      }
      if (args.json) return;
      if (res.dryRun) {
        for (const w of res.warnings ?? []) process.stderr.write(`toes: warning: ${w}\n`);
        const what = res.unchanged ? 'is already live' : res.reused ? `would reuse release ${res.release}` : 'would be built as a new release';
        return console.log(`${app}: version ${shortId(res.version)} ${what}; nothing was changed (--dry-run).`);
      }
      if (res.unchanged) console.log(`${app} is already live at ${shortId(res.version)} (release ${res.release}); nothing to do.`);
      else
        console.log(
          `${app} is live: release ${res.release}, version ${shortId(res.version)}${res.reused ? ' (reused, no build)' : ''} in ${(res.durationMs / 1000).toFixed(2)}s.` +
            (res.previous ? ` Undo with: toes rollback ${app}` : ''),
        );
    });
  },
});
