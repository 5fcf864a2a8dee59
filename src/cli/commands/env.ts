import { defineCommand } from 'citty';
import { describe } from '../help.js';
import { RevError } from '../../errors.js';
import { checkEnvKey, isSecretKey, mask } from '../../releases/settings/env.js';
import { readJson, updateJson } from '../../releases/settings/files.js';
import { envFile } from '../../releases/settings/load.js';
import { DEFAULT_TOKEN_HOST } from '../../releases/settings/tokens.js';
import { printable } from '../../printable.js';
import { printJson } from '../common.js';
import { kvCommands, readValue, type KvRun } from '../kv.js';

/** `--host` is only for a token; the hosts are checked to be host names (with a port at most). */
function tokenHost(key: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (key !== 'REV_TOKEN' && key !== 'FORGE_TOKEN') throw new RevError('USAGE', '--host names the host a REV_TOKEN or FORGE_TOKEN is for; it has no meaning for other keys.');
  const hosts = String(raw).split(',').map((h) => h.trim().toLowerCase());
  for (const h of hosts) if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(h) && !/^\[[0-9a-f:]+\](:\d{1,5})?$/.test(h)) throw new RevError('USAGE', `"${printable(h)}" is not a host name; give it as git.example.com (or host:port).`);
  return hosts.join(',');
}

/** Where a stored REV_TOKEN will be sent, in words, or undefined for an app's (its source). */
async function tokenDestination(file: string, global: boolean): Promise<string[] | undefined> {
  const hosts = String((await readJson(file)).REV_TOKEN_HOST ?? '').split(',').filter(Boolean);
  if (hosts.length) return hosts;
  return global ? [DEFAULT_TOKEN_HOST] : undefined;
}

const EXAMPLES =
  'Examples:\n' +
  '  toes env set my-app REV_TOKEN          reads the value from stdin (keeps it out of `ps`)\n' +
  '  echo "$TOKEN" | toes env set -g REV_TOKEN --host git.example.com\n' +
  'A token is sent only to the host it is for: an app\'s own REV_TOKEN to the source you gave it\n' +
  '(or the hosts in its REV_TOKEN_HOST), the global one to REV_TOKEN_HOST, else rev.host alone.\n' +
  '  toes env set my-app API_URL https://example.com\n' +
  '  toes env list my-app                   secret-looking values are masked';

const env: KvRun = async (action, args, call) => {
  const file = envFile(call.layout, call.scope);
  const where = call.scope.global ? 'global' : call.scope.app;
  switch (action) {
    case 'list': {
      const v = await readJson(file);
      const shown = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isSecretKey(k) ? mask(String(x)) : String(x)]));
      if (args.json) return printJson(shown);
      for (const [k, x] of Object.entries(shown)) console.log(`${printable(k)}=${printable(x)}`);
      return;
    }
    case 'get': {
      const key = checkEnvKey(call.key!);
      const v = await readJson(file);
      if (!(key in v)) throw new RevError('USAGE', `${key} is not set for ${where}; set it with \`toes env set ${call.scope.global ? '-g' : where} ${key}\`.`);
      if (args.json) return printJson({ key, value: String(v[key]) });
      // The value itself, as stored: a script reads it with $(toes env get ...).
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
      if ((key === 'REV_TOKEN' || key === 'FORGE_TOKEN') && (value.length === 0 || /\s/.test(value))) {
        throw new RevError('USAGE', `A ${key} cannot be empty or contain spaces or newlines; paste the token alone.`);
      }
      const host = tokenHost(key, args.host);
      await updateJson(file, (v) => {
        v[key] = value;
        if (host) v[`${key}_HOST`] = host;
      });
      const goesTo = key === 'REV_TOKEN' ? await tokenDestination(file, call.scope.global) : undefined;
      if (args.json) return printJson({ ok: true, key, ...(goesTo ? { hosts: goesTo } : {}) });
      console.log(`${key} set for ${where}.${goesTo ? ` It is sent only to ${goesTo.join(', ')}${host ? '' : ' (name the host with --host)'}.` : ''}`);
    }
  }
};

export default defineCommand({
  meta: {
    name: 'env',
    description: describe('env', "Per-app or global (-g) environment, e.g. REV_TOKEN for the app's git host: set, get, unset, list.", EXAMPLES),
  },
  default: 'list',
  subCommands: kvCommands('env', (w) => /^[A-Z_][A-Z0-9_]*$/.test(w), env, {
    help: { set: ['Set KEY to VALUE for an app (or -g: for every app); without VALUE it is read from stdin.', EXAMPLES] },
    args: {
      set: { host: { type: 'string', description: 'With REV_TOKEN or FORGE_TOKEN: the host (or hosts, comma-separated) the token is for; saved as REV_TOKEN_HOST or FORGE_TOKEN_HOST', valueHint: 'HOST' } },
    },
  }),
});
