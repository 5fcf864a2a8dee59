import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { RevError } from '../../errors.js';
import { printable } from '../../printable.js';
import { readJson, updateJson } from '../../releases/settings/files.js';
import { configFile } from '../../releases/settings/load.js';
import { CONFIG_KEYS, configKey, isConfigKey, parseConfigValue } from '../../releases/settings/schema.js';
import { printJson } from '../common.js';
import { kvCommands, type Action, type KvRun } from '../kv.js';

/** Defaults the keys' own help does not state (they depend on the machine, or there is none). */
const DEFAULTS: Record<string, string> = {
  source: 'none until `toes deploy --from` saves one',
  supervisor: 'toes when TOES_URL is set, else none',
  restart: 'none',
  pidfile: 'none',
  'health.url': 'none: no health check',
  relay: 'REV_RELAY_URL, else https://sneaker.toes.space',
};

const keyList = Object.entries(CONFIG_KEYS)
  .map(([k, s]) => {
    const values = 'values' in s && Array.isArray(s.values) ? `; one of ${s.values.join(', ')}` : '';
    const dflt = DEFAULTS[k] ? ` (default: ${DEFAULTS[k]})` : '';
    return `  ${k.padEnd(15)} ${s.help}${values}${dflt}${s.globalOnly ? '; global only (-g)' : ''}`;
  })
  .join('\n');

const EXAMPLES = 'Examples:\n  toes config set my-app branch production\n  toes config set -g keep 10\n  toes config set my-app supervisor command\n  toes config list my-app';

const config: KvRun = async (action, args, call) => {
  const { formatSource, parseSource } = await import('../../fetch/index.js');
  const file = configFile(call.layout, call.scope);
  const where = call.scope.global ? 'global' : call.scope.app;
  const scopeWord = call.scope.global ? '-g' : where;
  const known = (k: string) => configKey(k, call.scope.global);
  switch (action) {
    case 'list': {
      const v = await readJson(file);
      if (args.json) return printJson(v);
      for (const [k, x] of Object.entries(v)) console.log(`${printable(k)}=${printable(x)}`);
      return;
    }
    case 'get': {
      const key = known(call.key!);
      const v = await readJson(file);
      // Like `env get` (and `git config`): an unset key is an error, in JSON too.
      if (!(key in v)) throw new RevError('USAGE', `${key} is not set for ${where}; set it with \`toes config set ${scopeWord} ${key} VALUE\`.`);
      if (args.json) return printJson({ key, value: v[key] });
      console.log(printable(v[key]));
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
      if (call.value === undefined) throw new RevError('USAGE', `Give a value: toes config set ${scopeWord} ${key} VALUE.`);
      let value = parseConfigValue(key, call.value);
      if (key === 'source') value = formatSource(parseSource(String(value)));
      await updateJson(file, (v) => void (v[key] = value));
      if (args.json) return printJson({ ok: true, key, value });
      console.log(`${key}=${printable(value)} for ${where}.`);
    }
  }
};

export default defineCommand({
  meta: {
    name: 'config',
    description: describe('config', 'Per-app or global (-g) settings: set, get, unset, list.', 'Settings:\n' + keyList + '\n\n' + EXAMPLES),
  },
  default: 'list',
  subCommands: kvCommands('config', isConfigKey, config, {
    help: { set: ['Set KEY to VALUE for an app (or -g: the global default).', 'Settings:\n' + keyList + '\n\n' + EXAMPLES] },
  }),
});
