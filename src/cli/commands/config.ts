import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { RevError } from '../../errors.js';
import { CONFIG_KEYS, configFile, parseConfigValue, readJson, updateJson } from '../../releases/settings.js';
import { act, commonArgs, layoutFrom, printJson } from '../common.js';
import { parseKv } from '../kv.js';

const keyList = Object.entries(CONFIG_KEYS)
  .map(([k, s]) => `  ${k.padEnd(15)} ${s.help}`)
  .join('\n');

export default defineCommand({
  meta: {
    name: 'config',
    description: describe('config', 'Per-app or global (-g) settings.', 'Settings:\n' + keyList +
      '\n\nExamples:\n  toes config set my-app branch production\n  toes config set -g keep 10\n  toes config list my-app'),
  },
  args: {
    action: { type: 'positional', description: 'set | get | unset | list' },
    global: { type: 'boolean', alias: 'g', description: 'The global defaults' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const { formatSource, parseSource } = await import('../../fetch/index.js');
      const layout = layoutFrom(args);
      const words = args._.slice(1).map(String);
      const call = parseKv(String(args.action ?? 'list'), words, !!args.global, layout, (w) => w in CONFIG_KEYS);
      const file = configFile(layout, call.scope);
      const where = call.scope.global ? 'global' : call.scope.app;
      const known = (k: string) => {
        if (!(k in CONFIG_KEYS)) throw new RevError('BAD_CONFIG', `"${k}" is not a setting; known settings: ${Object.keys(CONFIG_KEYS).join(', ')}.`);
        if (CONFIG_KEYS[k].globalOnly && !call.scope.global) throw new RevError('BAD_CONFIG', `${k} is a global setting; use \`toes config set -g ${k} VALUE\`.`);
        return k;
      };
      switch (call.action) {
        case 'list': {
          const v = await readJson(file);
          if (args.json) return printJson(v);
          for (const [k, x] of Object.entries(v)) console.log(`${k}=${x}`);
          return;
        }
        case 'get': {
          const key = known(call.key!);
          const v = await readJson(file);
          // Like `env get` (and `git config`): an unset key is an error, in JSON too.
          if (!(key in v)) throw new RevError('USAGE', `${key} is not set for ${where}; set it with \`toes config set ${call.scope.global ? '-g' : where} ${key} VALUE\`.`);
          if (args.json) return printJson({ key, value: v[key] });
          console.log(String(v[key]));
          return;
        }
        case 'unset': {
          const key = known(call.key!);
          await updateJson(file, (v) => void delete v[key]);
          if (args.json) return printJson({ ok: true, key });
          console.log(`${key} unset for ${where}.`);
          return;
        }
        case 'set': {
          const key = known(call.key!);
          if (call.value === undefined) throw new RevError('USAGE', `Give a value: toes config set ${call.scope.global ? '-g' : where} ${key} VALUE.`);
          let value = parseConfigValue(key, call.value);
          if (key === 'source') value = formatSource(parseSource(String(value)));
          await updateJson(file, (v) => void (v[key] = value));
          if (args.json) return printJson({ ok: true, key, value });
          console.log(`${key}=${value} for ${where}.`);
        }
      }
    });
  },
});
