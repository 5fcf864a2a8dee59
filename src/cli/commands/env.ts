import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { RevError } from '../../errors.js';
import { checkEnvKey, envFile, isSecretKey, mask, readJson, updateJson } from '../../releases/settings.js';
import { act, commonArgs, layoutFrom, printJson } from '../common.js';
import { parseKv, readValue } from '../kv.js';

export default defineCommand({
  meta: {
    name: 'env',
    description: describe('env', "Per-app or global (-g) environment, e.g. REV_TOKEN for the app's git host.", 'Examples:\n' +
      '  toes env set my-app REV_TOKEN          reads the value from stdin (keeps it out of `ps`)\n' +
      '  echo "$TOKEN" | toes env set -g REV_TOKEN\n' +
      '  toes env set my-app API_URL https://example.com\n' +
      '  toes env list my-app                   secret-looking values are masked'),
  },
  args: {
    action: { type: 'positional', description: 'set | get | unset | list' },
    global: { type: 'boolean', alias: 'g', description: 'The global environment (defaults for every app)' },
    ...commonArgs,
  },
  async run({ args }) {
    await act(args, async () => {
      const layout = layoutFrom(args);
      const words = args._.slice(1).map(String);
      const call = parseKv(String(args.action ?? 'list'), words, !!args.global, layout, (w) => /^[A-Z_][A-Z0-9_]*$/.test(w));
      const file = envFile(layout, call.scope);
      const where = call.scope.global ? 'global' : call.scope.app;
      switch (call.action) {
        case 'list': {
          const v = await readJson(file);
          const shown = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isSecretKey(k) ? mask(String(x)) : String(x)]));
          if (args.json) return printJson(shown);
          for (const [k, x] of Object.entries(shown)) console.log(`${k}=${x}`);
          return;
        }
        case 'get': {
          const key = checkEnvKey(call.key!);
          const v = await readJson(file);
          if (!(key in v)) throw new RevError('USAGE', `${key} is not set for ${where}; set it with \`toes env set ${call.scope.global ? '-g' : where} ${key}\`.`);
          if (args.json) return printJson({ key, value: String(v[key]) });
          console.log(String(v[key]));
          return;
        }
        case 'unset': {
          const key = checkEnvKey(call.key!);
          await updateJson(file, (v) => void delete v[key]);
          if (args.json) return printJson({ ok: true, key });
          console.log(`${key} unset for ${where}.`);
          return;
        }
        case 'set': {
          const key = checkEnvKey(call.key!);
          const value = call.value ?? (await readValue(`Value for ${key}: `));
          if (value.includes('\0')) throw new RevError('USAGE', `The value for ${key} contains a NUL byte.`);
          if (key === 'REV_TOKEN' && (value.length === 0 || /\s/.test(value))) {
            throw new RevError('USAGE', 'A REV_TOKEN cannot be empty or contain spaces or newlines; paste the token alone.');
          }
          await updateJson(file, (v) => void (v[key] = value));
          if (args.json) return printJson({ ok: true, key });
          console.log(`${key} set for ${where}.`);
        }
      }
    });
  },
});
