import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, parseSecondsFlag, printJson } from '../common.js';

export default defineCommand({
  meta: {
    name: 'gc',
    description: describe('gc', 'Delete what no kept release and no store tip needs; --dry-run says what that would free.',
      'Each deploy that prunes a release collects after itself; run this to see what the store holds, or\n' +
      'to finish a collection a busy store or a kill cut short. Kept: every file of every kept release,\n' +
      "the contents and trees of each source's newest fetched commit (so the next fetch downloads only\n" +
      "what changed), and the commits of kept releases. Deleted: blobs nothing links, pruned releases'\n" +
      'directories and deploy logs, older git objects, and the git stores of sources no kept release\n' +
      'uses. Deploys never wait for it longer than a few file deletions, and it is safe to stop at any\n' +
      'moment. The blob store is shared by all apps, so [app] limits only the per-app cleanup.\n\n' +
      'Examples:\n' +
      '  toes gc --dry-run        what the store holds and what a collection would free\n' +
      '  toes gc                  collect for every app\n' +
      '  toes gc my-app --json    one app\'s leftovers, then the shared blobs; the report as JSON'),
  },
  args: {
    app: { type: 'positional', required: false, description: 'Only this app\'s leftovers (default: every app)' },
    'dry-run': { type: 'boolean', description: 'Change nothing; say what would be freed' },
    wait: { type: 'string', description: 'Seconds to wait for running deploys to stop using the store (default 30)', valueHint: 'SECONDS' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const { collectGarbage } = await import('../../releases/gc.js');
      const layout = layoutFrom(args);
      const app = args.app ? appFrom(args.app) : undefined;
      const waitS = parseSecondsFlag(args.wait, 'wait') ?? 30;
      const g = await collectGarbage(layout, { app, dryRun: !!args['dry-run'], waitMs: waitS * 1000 });
      if (args.json) return printJson({ ok: true, ...g });
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      const links = g.releases === 'links' ? 'releases are hard links to them' : 'APPS_DIR is on another filesystem: releases hold copies, so only what store tips need is kept';
      console.log(`store: ${g.store.blobs} blobs, ${mb(g.store.bytes)} (${links})`);
      const parts = [
        `${g.freed.blobs} blobs (${mb(g.freed.bytes)})`,
        `${g.objects} git objects (${mb(g.objectBytes)})`,
        `${g.releaseDirs} pruned release directories`,
        `${g.logs} deploy logs`,
        `${g.sources} unused sources`,
      ];
      console.log(`${g.dryRun ? 'would free' : 'freed'}: ${parts.join(', ')}`);
      if (g.dryRun) console.log('nothing was changed (--dry-run)');
      for (const s of g.skipped) process.stderr.write(`toes: note: left for a later \`toes gc\`: ${s}\n`);
    });
  },
});
