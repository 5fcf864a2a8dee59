import { defineCommand } from 'citty';
import { RevError } from '../../errors.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, printJson } from '../common.js';

/** A word that names a receiver rather than an app: a URL or an id `add` printed. */
const isReceiverWord = (w: string) => w.includes('://') || /^n_[0-9a-f]{8}$/.test(w);

export default defineCommand({
  meta: {
    name: 'notify',
    description: describe('notify', 'Send deploy events to a receiver: signed JSON (Standard Webhooks) or an ntfy notification.', 'Examples:\n' +
      '  toes notify add my-app https://hooks.example.com/toes   prints the whsec_ secret the receiver verifies with\n' +
      '  toes notify add -g ntfy://ntfy.sh/my-secret-topic      every app, as phone notifications\n' +
      '  toes notify list my-app                                receivers (URLs masked) and their last outcome\n' +
      '  toes notify test my-app                                sends a test event to each receiver now\n' +
      '  toes notify remove my-app n_1a2b3c4d                   by id (or URL)\n' +
      'Events: deploy.started, deploy.succeeded, deploy.failed, deploy.rolled_back, delivery.refused.'),
  },
  args: {
    action: { type: 'positional', description: 'add | list | remove | test', required: false },
    global: { type: 'boolean', alias: 'g', description: 'Receivers for every app' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const action = String(args.action ?? 'list');
      if (!['add', 'list', 'remove', 'test'].includes(action)) throw new RevError('USAGE', `"${action}" is not a notify action; use add, list, remove or test.`);
      const layout = layoutFrom(args);
      const words = args._.slice(1).map(String);
      const named = !args.global && words.length && !isReceiverWord(words[0]) ? words.shift() : undefined;
      const app = args.global ? undefined : appFrom(named);
      const scope = app ? { global: false as const, app } : { global: true as const };
      const where = app ?? 'every app';
      const which = words[0];
      if (words.length > 1) throw new RevError('USAGE', `Usage: toes notify ${action} [-g | app]${action === 'list' ? '' : ' URL'}; "${words[1]}" is one word too many.`);
      const r = await import('../../hooks/notify/receivers.js');

      if (action === 'add') {
        if (!which) throw new RevError('USAGE', 'Give the receiver\'s URL: toes notify add [-g | app] https://host/path (or ntfy://host/topic).');
        const added = await r.addReceiver(layout, scope, which);
        const kind = r.receiverKind(added.url);
        if (args.json) return printJson({ ok: true, id: added.id, kind, url: r.mask(added.url), secret: added.secret, global: scope.global });
        console.log(`Deploy events of ${where} now go to ${r.mask(added.url)} (${kind === 'ntfy' ? 'ntfy notifications' : 'signed JSON'}), id ${added.id}.`);
        if (kind === 'webhook') console.log(`\n  Secret:  ${added.secret}\n\nThe receiver verifies each event's webhook-signature with it (any Standard Webhooks library does).`);
        return;
      }
      if (action === 'remove') {
        if (!which) throw new RevError('USAGE', 'Name the receiver to remove by its id (see `toes notify list`) or its URL.');
        if (!(await r.removeReceiver(layout, scope, which))) throw new RevError('USAGE', `No receiver ${isReceiverWord(which) && which.includes('://') ? r.mask(which) : which} for ${where}; see \`toes notify list${app ? ` ${app}` : ' -g'}\`.`);
        if (args.json) return printJson({ ok: true, removed: which.includes('://') ? r.mask(which) : which });
        console.log(`Removed; events of ${where} no longer go there.`);
        return;
      }
      const receivers = app ? await r.receiversOf(layout, app) : await r.readReceivers(layout, scope);
      if (action === 'test') {
        const { sendTest } = await import('../../hooks/notify/test-event.js');
        const chosen = receivers.filter((x) => !which || x.id === which || x.url === which);
        if (!chosen.length) throw new RevError('USAGE', `No receiver to test for ${where}; add one with \`toes notify add${app ? ` ${app}` : ' -g'} URL\`.`);
        const results = await Promise.all(chosen.map(async (x) => ({ id: x.id, url: r.mask(x.url), ...(await sendTest(x, app ?? 'toes')) })));
        if (args.json) printJson({ ok: results.every((x) => x.ok), results });
        else for (const x of results) console.log(`${x.id}  ${x.url}  ${x.ok ? `delivered (${x.status})` : `failed: ${x.reason}`}`);
        if (!results.every((x) => x.ok)) process.exitCode = 1;
        return;
      }
      const { readNotifyState } = await import('../../hooks/notify/outcomes.js');
      const outcomes = app ? (await readNotifyState(layout, app)).targets : [];
      const shown = receivers.map((x) => {
        const last = outcomes.find((o) => o.target.startsWith(`${x.id} `));
        return { id: x.id, kind: r.receiverKind(x.url), url: r.mask(x.url), global: x.global, last: last ?? null };
      });
      if (args.json) return printJson(shown);
      if (!shown.length) return console.log(`No receivers for ${where}; add one with \`toes notify add${app ? ` ${app}` : ' -g'} URL\`.`);
      for (const x of shown) {
        const last = x.last ? `  last: ${x.last.outcome} ${x.last.what} at ${x.last.at}${x.last.reason ? ` (${x.last.reason})` : ''}` : '';
        console.log(`${x.id}  ${x.kind.padEnd(7)} ${x.url}${x.global && app ? '  (global)' : ''}${last}`);
      }
    });
  },
});
