import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { act, commonArgs, layoutFrom, printJson } from '../common.js';

export default defineCommand({
  meta: {
    name: 'page',
    description: describe(
      'page',
      'Print a login link for the settings page (or log every browser out with --revoke).',
      'The settings page that `toes serve` runs needs a login. Open the link in the browser you\n' +
        'want to use: it logs that browser in for 30 days (renewed while in use). Each link is new,\n' +
        'works once, and only for 15 minutes; the part after # never leaves the browser, so no\n' +
        'server, proxy or log sees it. Works whether or not `toes serve` runs.\n\n' +
        'Inside the Toes dashboard, paste the link into the page\'s login field instead.\n\n' +
        'Examples:\n' +
        '  toes page                 prints http://<host>:7420/login#<token>\n' +
        '  toes page --json          {"url": ..., "expiresAt": ...}\n' +
        '  toes page --revoke        logs every browser out and voids every unused link',
    ),
  },
  args: {
    revoke: { type: 'boolean', description: 'Log every browser out and void every login link not used yet' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const layout = layoutFrom(args);
      if (args.revoke) {
        const { revokeAll } = await import('../../hooks/page/login-store.js');
        const n = await revokeAll(layout);
        if (args.json) return printJson({ ok: true, revoked: n });
        console.log(`Logged out ${n.sessions} browser${n.sessions === 1 ? '' : 's'} and voided ${n.links} unused login link${n.links === 1 ? '' : 's'}. Run \`toes page\` for a new link.`);
        return;
      }
      const { newLoginLink } = await import('../../hooks/page/login-link.js');
      const link = await newLoginLink(layout);
      if (args.json) return printJson({ url: link.url, expiresAt: link.expiresAt, daemon: link.daemon });
      console.log('Open this link in your browser to log in to the settings page (it works once, within 15 minutes):\n');
      console.log(`  ${link.url}\n`);
      console.log('If your browser reaches this machine by another name or address, change the part before /login.');
      if (!link.daemon) process.stderr.write('toes: note: toes serve is not running here; start it, then open the link.\n');
    });
  },
});
