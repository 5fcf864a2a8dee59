import { defineCommand, type ArgsDef } from 'citty';
import { RevError } from '../../errors.js';
import type { Layout } from '../../releases/paths.js';
import { describe } from '../help.js';
import { act, appFrom, commonArgs, layoutFrom, printJson } from '../common.js';

type Action = 'add' | 'list' | 'remove' | 'test';

/** A word that names a receiver rather than an app: a URL or an id `add` printed. */
const isReceiverWord = (w: string) => w.includes('://') || /^n_[0-9a-f]{8}$/.test(w);

interface Target {
  layout: Layout;
  /** Undefined with -g. */
  app?: string;
  scope: { global: false; app: string } | { global: true };
  /** The app, or "every app", for sentences. */
  where: string;
  /** The receiver's URL or id, when given. */
  which?: string;
  receivers: typeof import('../../hooks/notify/receivers.js');
}

/** `[-g | app] [RECEIVER]`: the first word is the app unless it is a URL or a receiver id. */
async function targetOf(action: Action, args: Record<string, unknown> & { _: unknown[] }): Promise<Target> {
  const layout = layoutFrom(args);
  const words = args._.map(String);
  const named = !args.global && words.length && !isReceiverWord(words[0]) ? words.shift() : undefined;
  const app = args.global ? undefined : appFrom(named);
  if (words.length > 1) throw new RevError('USAGE', `Usage: toes notify ${action} [-g | app]${action === 'list' ? '' : ' URL'}; "${words[1]}" is one word too many.`);
  return {
    layout,
    app,
    scope: app ? { global: false, app } : { global: true },
    where: app ?? 'every app',
    which: words[0],
    receivers: await import('../../hooks/notify/receivers.js'),
  };
}

const add = async ({ layout, scope, where, which, receivers: r }: Target, json: boolean) => {
  if (!which) throw new RevError('USAGE', 'Give the receiver\'s URL: toes notify add [-g | app] https://host/path (or ntfy://host/topic).');
  const added = await r.addReceiver(layout, scope, which);
  const kind = r.receiverKind(added.url);
  if (json) return printJson({ ok: true, id: added.id, kind, url: r.mask(added.url), secret: added.secret, global: scope.global });
  console.log(`Deploy events of ${where} now go to ${r.mask(added.url)} (${kind === 'ntfy' ? 'ntfy notifications' : 'signed JSON'}), id ${added.id}.`);
  if (kind === 'webhook') console.log(`\n  Secret:  ${added.secret}\n\nThe receiver verifies each event's webhook-signature with it (any Standard Webhooks library does).`);
};

const remove = async ({ layout, app, scope, where, which, receivers: r }: Target, json: boolean) => {
  if (!which) throw new RevError('USAGE', 'Name the receiver to remove by its id (see `toes notify list`) or its URL.');
  if (!(await r.removeReceiver(layout, scope, which))) throw new RevError('USAGE', `No receiver ${isReceiverWord(which) && which.includes('://') ? r.mask(which) : which} for ${where}; see \`toes notify list${app ? ` ${app}` : ' -g'}\`.`);
  if (json) return printJson({ ok: true, removed: which.includes('://') ? r.mask(which) : which });
  console.log(`Removed; events of ${where} no longer go there.`);
};

const receiversFor = ({ layout, app, scope, receivers: r }: Target) => (app ? r.receiversOf(layout, app) : r.readReceivers(layout, scope));

const sendTests = async (t: Target, json: boolean) => {
  const { app, where, which, receivers: r } = t;
  const { sendTest } = await import('../../hooks/notify/test-event.js');
  const chosen = (await receiversFor(t)).filter((x) => !which || x.id === which || x.url === which);
  if (!chosen.length) throw new RevError('USAGE', `No receiver to test for ${where}; add one with \`toes notify add${app ? ` ${app}` : ' -g'} URL\`.`);
  const results = await Promise.all(chosen.map(async (x) => ({ id: x.id, url: r.mask(x.url), ...(await sendTest(x, app ?? 'toes')) })));
  if (json) printJson({ ok: results.every((x) => x.ok), results });
  else for (const x of results) console.log(`${x.id}  ${x.url}  ${x.ok ? `delivered (${x.status})` : `failed: ${x.reason}`}`);
  if (!results.every((x) => x.ok)) process.exitCode = 1;
};

const list = async (t: Target, json: boolean) => {
  const { layout, app, where, receivers: r } = t;
  const { readNotifyState } = await import('../../hooks/notify/outcomes.js');
  const outcomes = app ? (await readNotifyState(layout, app)).targets : [];
  const shown = (await receiversFor(t)).map((x) => {
    const last = outcomes.find((o) => o.target.startsWith(`${x.id} `));
    return { id: x.id, kind: r.receiverKind(x.url), url: r.mask(x.url), global: x.global, last: last ?? null };
  });
  if (json) return printJson(shown);
  if (!shown.length) return console.log(`No receivers for ${where}; add one with \`toes notify add${app ? ` ${app}` : ' -g'} URL\`.`);
  for (const x of shown) {
    const last = x.last ? `  last: ${x.last.outcome} ${x.last.what} at ${x.last.at}${x.last.reason ? ` (${x.last.reason})` : ''}` : '';
    console.log(`${x.id}  ${x.kind.padEnd(7)} ${x.url}${x.global && app ? '  (global)' : ''}${last}`);
  }
};

const app = { type: 'positional', required: false, description: 'The app (default: name in ./package.json; none with -g)' } as const;
const receiver = (description: string) => ({ type: 'positional', required: false, description }) as const;

const ACTIONS: Record<Action, { description: string; args: ArgsDef; run: (t: Target, json: boolean) => Promise<void> }> = {
  add: { description: 'Send deploy events of an app (or -g: every app) to a receiver URL; prints its signing secret.', args: { app, url: receiver('https://… (signed JSON) or ntfy://host/topic') }, run: add },
  list: { description: 'The receivers of an app (or -g), URLs masked, with their last outcome.', args: { app }, run: list },
  remove: { description: 'Stop sending to a receiver, named by its id or URL.', args: { app, receiver: receiver('The id `add` printed, or the URL') }, run: remove },
  test: { description: 'Send a notify.test event to each receiver (or the one named) now.', args: { app, receiver: receiver('The id or URL of one receiver (default: all)') }, run: sendTests },
};

const subcommand = (action: Action) =>
  defineCommand({
    meta: { name: action, description: ACTIONS[action].description },
    args: { ...ACTIONS[action].args, global: { type: 'boolean', alias: 'g', description: 'Receivers for every app' }, ...commonArgs },
    async run({ args }) {
      await act(args, async () => ACTIONS[action].run(await targetOf(action, args), !!args.json));
    },
  });

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
  default: 'list',
  subCommands: { add: subcommand('add'), list: subcommand('list'), remove: subcommand('remove'), test: subcommand('test') },
});
