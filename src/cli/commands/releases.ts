import { defineCommand } from 'citty';
import { printable } from '../../printable.js';
import { act, appFrom, commonArgs, layoutFrom, printJson, shortId } from '../common.js';

export default defineCommand({
  meta: { name: 'releases', description: "The app's release log, oldest first: version, commit, when, status, and which is live (*)." },
  args: {
    app: { type: 'positional', required: false, description: 'App name (default: name in ./package.json)' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const { listReleases, supervisorOf } = await import('../../activate/release-list.js');
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const { releases, busy, recoveryNeeded } = await listReleases(layout, app);
      // Said on stderr with --json: stdout stays the array of releases.
      const recovery = recoveryNeeded && `recovery pending: ${recoveryNeeded.reasons.join('; ')}. The next \`${recoveryNeeded.command}\` (or \`toes rollback ${app}\`) does it first.`;
      if (args.json) {
        if (recovery) process.stderr.write(`toes: note: ${recovery}\n`);
        return printJson(releases);
      }
      if (releases.length === 0) return console.log(`${app} has no releases yet.`);
      const rows = releases.map((r) => [
        r.live ? '*' : ' ',
        r.id,
        shortId(r.version),
        r.commit ? r.commit.slice(0, 10) : '-',
        r.status + (r.pruned ? ' (pruned)' : ''),
        r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        printable(r.trigger),
        r.error ? printable(r.error.message) : '',
      ]);
      const head = [' ', 'RELEASE', 'VERSION', 'COMMIT', 'STATUS', 'CREATED', 'BY', 'NOTE'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
      if (busy) console.log('(a deploy is running: the newest lines may still change)');
      if (recovery) console.log(recovery);
      console.log(`supervisor: ${await supervisorOf(layout, app)}`);
    });
  },
});
