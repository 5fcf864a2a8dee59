import { defineCommand } from 'citty';
import { printable } from '../../printable.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, printJson, shortId } from '../common.js';

const LOCAL_NOTE =
  'This URL only reaches this machine. For rev.host, GitHub or Forgejo to deliver, run `toes serve --host 0.0.0.0`, ' +
  'make the port reachable, and set the public address with `toes config set -g webhook.url https://HOST:PORT`.';

const appArg = { app: { type: 'positional', required: false, description: 'App name (default: name in ./package.json)' } } as const;

const enable = defineCommand({
  meta: { name: 'enable', description: 'Turn webhooks on; print the URL and signing secret to paste into rev.host.' },
  args: { ...appArg, rotate: { type: 'boolean', description: 'Make a new secret (the old one stops working)' }, ...commonArgs },
  async run({ args }) {
    await act(args, async () => {
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const { setWebhook } = await import('../../hooks/serve/webhook-state.js');
      const { webhookStatus } = await import('../../hooks/serve/status.js');
      const { effectiveConfig } = await import('../../releases/settings/load.js');
      const hook = await setWebhook(layout, app, { enabled: true, rotate: !!args.rotate });
      const notes: string[] = [];
      // Behind NAT, hosts reach this server through the relay: register with it once.
      const { ensureInstance, relayUrl } = await import('../../hooks/serve/relay-link/instance.js');
      const relay = await relayUrl(layout);
      if (relay) {
        try {
          await ensureInstance(layout, relay);
        } catch (err) {
          notes.push(`${(err as Error).message} Until then the URL below is this server's own; run \`toes webhook enable ${app}\` again to get the relay URL, or \`toes config set -g relay none\` to stop using one.`);
        }
      }
      const st = await webhookStatus(layout, app, 0);
      const cfg = await effectiveConfig(layout, app);
      if (!cfg.source) notes.push(`${app} has no source yet: deploy it once with \`toes deploy ${app} --from URL\` so webhooks know what to pull.`);
      if (!st.daemon) notes.push('toes serve is not running here: start it (e.g. as a service) or deliveries will not be received.');
      if (st.local) notes.push(LOCAL_NOTE);
      if (args.json) return printJson({ ok: true, app, enabled: true, url: st.url, secret: hook.secret, createdAt: hook.createdAt, daemon: !!st.daemon, relay: st.relay ? { url: st.relay.url, instance: st.relay.instance } : null, notes });
      console.log(`Webhooks are on for ${app}. Paste these into rev.host (or GitHub / Forgejo):\n`);
      console.log(`  URL:     ${st.url}`);
      console.log(`  Secret:  ${hook.secret}\n`);
      console.log('Keep the secret private: anyone holding it can trigger deploys of this app.');
      for (const n of notes) process.stderr.write(`toes: note: ${n}\n`);
    });
  },
});

const disable = defineCommand({
  meta: { name: 'disable', description: 'Turn webhooks off: deliveries are refused (403) until enabled again.' },
  args: { ...appArg, ...commonArgs },
  async run({ args }) {
    await act(args, async () => {
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const { setWebhook } = await import('../../hooks/serve/webhook-state.js');
      const hook = await setWebhook(layout, app, { enabled: false });
      if (args.json) return printJson({ ok: true, app, enabled: false, hadSecret: !!hook.secret });
      console.log(`Webhooks are off for ${app}: deliveries are refused (403) until \`toes webhook enable ${app}\`, which keeps the same secret.`);
    });
  },
});

const status = defineCommand({
  meta: { name: 'status', description: 'Whether webhooks are on, the last deliveries and the last deploy.' },
  args: { ...appArg, ...commonArgs },
  async run({ args }) {
    await act(args, async () => {
      const layout = layoutFrom(args);
      const app = appFrom(args.app);
      const { webhookStatus } = await import('../../hooks/serve/status.js');
      const st = await webhookStatus(layout, app);
      const notify = await (await import('../../hooks/notify/status.js')).notifyStatus(layout, app);
      if (args.json) return printJson({ ...st, notify });
      console.log(`${app}: webhooks ${st.enabled ? 'enabled' : 'disabled'}`);
      console.log(`URL:      ${st.url}${st.local ? '  (this machine only)' : ''}`);
      console.log(`daemon:   ${st.daemon ? `running at ${st.daemon.url} (pid ${st.daemon.pid}) since ${st.daemon.startedAt}` : 'not running (start it with `toes serve`)'}`);
      if (st.relay) {
        const r = st.relay;
        console.log(`relay:    ${printable(r.url)} as ${r.instance}: ${r.connected ? `connected since ${r.since}` : `not connected${r.since ? ` since ${r.since}` : ''}${r.lastError ? ` (${printable(r.lastError)})` : ''}`}; ${r.pending} waiting there`);
      }
      const d = st.lastDeploy;
      console.log(`deploy:   ${d ? `${d.status} ${d.release} (${printable(shortId(d.version))}) at ${d.at} by ${printable(d.trigger)}${d.error ? `: ${printable(d.error)}` : ''}` : 'none yet'}`);
      console.log(`statuses: ${notify.statuses.target ? `to ${printable(notify.statuses.target)}` : `off (${notify.statuses.why})`}; events: ${notify.receivers.length} receiver(s)${notify.waiting ? `; ${notify.waiting} waiting to be sent` : ''}`);
      for (const o of notify.outcomes) console.log(`  ${printable(o.target)}: ${o.outcome} ${o.what} at ${o.at}${o.reason ? ` (${printable(o.reason)})` : ''}`);
      for (const o of notify.failures) console.log(`  failed: ${printable(o.target)} ${o.what} at ${o.at}: ${printable(o.reason ?? '')}`);
      if (st.refused) console.log(`refused:  ${st.refused.count} deliver${st.refused.count === 1 ? 'y' : 'ies'} in the last hour, the newest at ${st.refused.at}: ${printable(st.refused.reason)}`);
      if (!st.deliveries.length) return console.log('deliveries: none yet');
      console.log('deliveries (newest first):');
      // Ids and reasons come from senders (a signed push names its own ref): escaped.
      for (const x of st.deliveries) {
        console.log(`  ${x.at}  ${x.outcome.padEnd(10)} ${x.status ?? '   '}  ${printable(x.id)}${x.release ? `  release ${x.release}` : ''}${x.reason ? `  ${printable(x.reason)}` : ''}`);
      }
    });
  },
});

export default defineCommand({
  meta: {
    name: 'webhook',
    description: describe(
      'webhook',
      'Deploy on every push: enable, disable or show (status, the default) an app\'s webhook.',
      'Examples:\n' +
        '  toes webhook enable my-app            prints the URL and signing secret to paste into rev.host\n' +
        '  toes webhook enable my-app --rotate   a new secret (the old one stops working)\n' +
        '  toes webhook status my-app            last deliveries and the last deploy\n' +
        '  toes webhook disable my-app           deliveries are refused (403) until enabled again\n\n' +
        'In GitHub or Forgejo: Settings > Webhooks > Add webhook, paste the URL, content type\n' +
        'application/json, the secret, and "just the push event". `toes serve` must be running.',
    ),
  },
  default: 'status',
  subCommands: { enable, disable, status },
});
