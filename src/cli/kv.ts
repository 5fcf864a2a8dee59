// `toes env` and `toes config` share a shape: ACTION [-g | app] [KEY] [VALUE], each action a
// citty subcommand. This file makes the four subcommands and turns their positional words
// into a scope, a key and a value.
import { defineCommand, type ArgsDef, type CommandDef } from 'citty';
import fs from 'node:fs';
import { RevError } from '../errors.js';
import type { Layout } from '../releases/paths.js';
import type { Scope } from '../releases/settings/load.js';
import { act, appFrom, commonArgs, layoutFrom } from './common.js';
import { describe } from './help.js';

export type Action = 'set' | 'get' | 'unset' | 'list';

export interface KvCall {
  action: Action;
  scope: Scope;
  key?: string;
  value?: string;
  layout: Layout;
}

export type KvRun = (action: Action, args: Record<string, unknown>, call: KvCall) => Promise<void>;

const SUMMARY: Record<Action, string> = {
  set: 'Set KEY to VALUE for an app (or -g: the global default).',
  get: "Print KEY's value for an app (or -g).",
  unset: 'Remove KEY for an app (or -g).',
  list: 'Every KEY=VALUE of an app (or -g).',
};

const WORDS: Record<Action, ArgsDef> = {
  set: { app: { type: 'positional', required: false, description: 'The app (default: name in ./package.json; none with -g)' }, key: { type: 'positional', required: false, description: 'The key' }, value: { type: 'positional', required: false, description: 'The value' } },
  get: { app: { type: 'positional', required: false, description: 'The app (default: name in ./package.json; none with -g)' }, key: { type: 'positional', required: false, description: 'The key' } },
  unset: { app: { type: 'positional', required: false, description: 'The app (default: name in ./package.json; none with -g)' }, key: { type: 'positional', required: false, description: 'The key' } },
  list: { app: { type: 'positional', required: false, description: 'The app (default: name in ./package.json; none with -g)' } },
};

/** set, get, unset and list of `toes KIND`, each running `run` with its words parsed. */
export function kvCommands(
  kind: 'env' | 'config',
  isKey: (w: string) => boolean,
  run: KvRun,
  opts: { help?: Partial<Record<Action, [string, string]>>; args?: Partial<Record<Action, ArgsDef>> } = {},
): Record<Action, CommandDef> {
  const make = (action: Action) =>
    defineCommand({
      meta: { name: action, description: opts.help?.[action] ? describe(action, ...opts.help[action]) : SUMMARY[action] },
      args: {
        ...WORDS[action],
        global: { type: 'boolean', alias: 'g', description: kind === 'env' ? 'The global environment (defaults for every app)' : 'The global defaults' },
        ...opts.args?.[action],
        ...commonArgs,
      },
      async run({ args }) {
        await act(args, async () => {
          const layout = layoutFrom(args);
          const call = parseKv(action, args._.map(String), !!args.global, layout, isKey);
          await run(action, args, { ...call, layout });
        });
      },
    }) as CommandDef;
  return { set: make('set'), get: make('get'), unset: make('unset'), list: make('list') };
}

/** How many words after the scope each action takes. */
const WANTS: Record<Action, { min: number; max: number }> = {
  list: { min: 0, max: 0 },
  get: { min: 1, max: 1 },
  unset: { min: 1, max: 1 },
  set: { min: 1, max: 2 },
};

/**
 * With -g every word is KEY/VALUE. Without it, the first word is the app when there are
 * more words than the action can take, or when it names an app this machine knows;
 * otherwise the app comes from ./package.json.
 */
export function parseKv(action: string, words: string[], global: boolean, layout: Layout, isKey: (w: string) => boolean): Omit<KvCall, 'layout'> {
  if (!(action in WANTS)) throw new RevError('USAGE', `Unknown action "${action}"; use set, get, unset or list.`);
  const a = action as Action;
  const { min, max } = WANTS[a];
  let scope: Scope;
  let rest = words;
  if (global) scope = { global: true };
  else {
    const first = words[0];
    const known = (w: string) => fs.existsSync(layout.appState(w)) || fs.existsSync(layout.appDir(w));
    const firstIsApp = first !== undefined && (words.length > max || (!isKey(first) && (words.length > min || a === 'list')) || (words.length > min && safeKnown(known, first)));
    if (firstIsApp) {
      scope = { global: false, app: appFrom(first) };
      rest = words.slice(1);
    } else scope = { global: false, app: appFrom(undefined) };
  }
  if (rest.length < min || rest.length > max) {
    const shape = a === 'list' ? '' : a === 'set' ? ' KEY [VALUE]' : ' KEY';
    throw new RevError('USAGE', `Usage: ${a} [-g | app]${shape}${a === 'set' ? ' (without VALUE it is read from stdin, which keeps it out of the process list)' : ''}.`);
  }
  return { action: a, scope, key: rest[0], value: rest[1] };
}

function safeKnown(known: (w: string) => boolean, w: string): boolean {
  try {
    return known(w);
  } catch {
    return false;
  }
}

/** Reads a value from stdin: hidden at a terminal, else everything piped in (one trailing newline dropped). */
export async function readValue(prompt: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    return new Promise((resolve) => {
      let buf = '';
      process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', function onData(d: Buffer) {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            process.stdin.setRawMode(false);
            process.stdin.pause();
            process.stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(buf);
          }
          if (ch === '\u0003') process.exit(130);
          buf = ch === '\u007f' ? buf.slice(0, -1) : buf + ch;
        }
      });
    });
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
