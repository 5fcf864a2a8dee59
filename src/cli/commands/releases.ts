import { defineCommand } from 'citty';
import { RevError } from '../../errors.js';
import { printable } from '../../printable.js';
import { act, appFrom, commonArgs, layoutFrom, printJson, shortId } from '../common.js';

export default defineCommand({
  meta: {
    name: 'releases',
    description:
      "The app's release log, oldest first: version, commit, when, status, and which is live (*).\n" +
      '`toes releases remove APP RELEASE --yes` deletes one release (adopted ones are never pruned automatically); --dry-run names what it would delete.',
  },
  args: {
    app: { type: 'positional', required: false, description: 'App name (default: name in ./package.json), or `remove`' },
    yes: { type: 'boolean', description: 'With remove: delete the release' },
    'dry-run': { type: 'boolean', description: 'With remove: change nothing; say what would be deleted' },
    verify: { type: 'boolean', description: 'Also compare each release on disk with its seal; fails naming any release changed since' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const rest = (args._ as string[]).slice(1);
      if (args.app === 'remove' && rest.length) return remove(args, rest);
      const { listReleases, supervisorOf } = await import('../../activate/release-list.js');
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const { releases, busy, recoveryNeeded } = await listReleases(layout, app);
      const seals = args.verify ? await (await import('../../activate/stages/check-seal.js')).verifyReleases(layout, app) : undefined;
      const sealOf = (id: string) => seals?.find((v) => v.id === id);
      const changed = seals?.filter((v) => v.error) ?? [];
      if (changed.length) process.exitCode = 1;
      for (const v of changed) process.stderr.write(`toes: ${printable(v.error!.message)}\n`);
      // Said on stderr with --json: stdout stays the array of releases.
      const recovery = recoveryNeeded && `recovery pending: ${recoveryNeeded.reasons.join('; ')}. The next \`${recoveryNeeded.command}\` (or \`toes rollback ${app}\`) does it first.`;
      if (args.json) {
        if (recovery) process.stderr.write(`toes: note: ${recovery}\n`);
        return printJson(seals ? releases.map((r) => ({ ...r, seal: sealOf(r.id)?.seal ?? null })) : releases);
      }
      if (releases.length === 0) return console.log(`${app} has no releases yet.`);
      const rows = releases.map((r) => [
        r.live ? '*' : ' ',
        r.id,
        shortId(r.version),
        r.commit ? r.commit.slice(0, 10) : '-',
        r.status + (r.pruned ? ' (pruned)' : '') + (r.kept ? `, ${r.kept}, kept` : ''),
        r.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        printable(r.trigger),
        (seals && sealOf(r.id) ? `seal ${sealOf(r.id)!.seal}` + (r.error ? '; ' : '') : '') + (r.error ? printable(r.error.message) : ''),
      ]);
      const head = [' ', 'RELEASE', 'VERSION', 'COMMIT', 'STATUS', 'CREATED', 'BY', 'NOTE'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
      if (busy) console.log('(a deploy is running: the newest lines may still change)');
      if (releases.some((r) => r.kept === 'adopted')) {
        console.log(`adopted, kept: made before toes-rev, never pruned (it may hold files git never had); \`toes releases remove ${app} RELEASE --yes\` deletes one.`);
      }
      if (recovery) console.log(recovery);
      console.log(`supervisor: ${await supervisorOf(layout, app)}`);
    });
  },
});

/** `toes releases remove APP RELEASE [--yes | --dry-run]`. */
async function remove(args: Record<string, unknown>, rest: string[]): Promise<void> {
  const [appArg, key, ...extra] = rest;
  if (!key || extra.length) throw new RevError('USAGE', 'Name one app and one release: `toes releases remove APP RELEASE --yes` (see `toes releases APP` for the ids).');
  const { removeRelease } = await import('../../releases/remove-release.js');
  const layout = layoutFrom(args);
  const app = appFrom(appArg);
  const dryRun = !!args['dry-run'] || !args.yes;
  const r = await removeRelease(layout, app, key, { dryRun, command: `toes releases remove ${app} ${key}` });
  const what = `${r.path} (${r.files} files, ${r.bytes} bytes${r.names.length ? `: ${r.names.join(', ')}${r.files > r.names.length ? ', ...' : ''}` : ''})`;
  if (!args.yes && !args['dry-run']) {
    throw new RevError('USAGE', `Removing release ${r.release} of ${app}${r.adopted ? ' (adopted: it may hold the only copy of files git never had)' : ''} deletes ${what}; add --yes to delete it, or --dry-run to only see this.`);
  }
  if (args.json) return printJson({ ok: true, removed: !r.dryRun, ...r });
  console.log(`${r.dryRun ? 'would delete' : 'deleted'} release ${r.release} of ${app}: ${what}`);
  if (r.dryRun) console.log('nothing was changed (--dry-run)');
}
