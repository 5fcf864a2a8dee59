// The `toes` command itself, given its subcommands: main.ts gives it all of them, loaded
// lazily; the one-command bundles (scripts/bundle.mjs) give it only theirs, so that a
// command's output and usage are the same whichever way it was started.
//
// runToes replaces citty's runMain for three things it does otherwise: a wrong command line
// (bare `toes`, an unknown command, an unknown flag) exits 2 with one sentence; help has no
// colour unless stdout is a terminal (and NO_COLOR is unset), lists the global options once
// (in `toes --help`), and puts a command's examples after its options; flags before a
// subcommand's name (`toes config --data-dir D set ...`) reach the subcommand.
import { defineCommand, renderUsage, runCommand, type ArgsDef, type CommandDef, type SubCommandsDef } from 'citty';
import { RevError, asRevError } from '../errors.js';
import { printable } from '../printable.js';
import { globalArgs, printFailure } from './common.js';

const VERSION = '0.1.0';

export function toesCommand(subCommands: SubCommandsDef) {
  return defineCommand({
    meta: {
      name: 'toes',
      version: VERSION,
      description:
        'Deploy Toes apps by pulling them: immutable releases, an atomic swap of `current`, instant rollback.\n\n' +
        'Start with:  toes deploy my-app --from https://rev.host/me/my-app.git\n' +
        'Undo with:   toes rollback my-app\n' +
        'Directories: DATA_DIR (default ~/.toes) and APPS_DIR (default $DATA_DIR/apps), or the options above.',
    },
    subCommands,
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandDef<any>;
type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);

const resolve = async <T>(v: Resolvable<T>): Promise<T> => (typeof v === 'function' ? (v as () => T | Promise<T>)() : v);

interface Resolved {
  /** The command names, `toes` first. */
  names: string[];
  chain: AnyCommand[];
  /** The command line without the command names. */
  rest: string[];
}

/** Values follow these flags (so a value is never taken for a command name). */
async function valueFlags(cmd: AnyCommand): Promise<Set<string>> {
  const defs: ArgsDef = { ...globalArgs, ...((await resolve(cmd.args ?? {})) as ArgsDef) };
  const out = new Set<string>();
  for (const [name, d] of Object.entries(defs)) {
    if (d.type !== 'string' && d.type !== 'enum') continue;
    out.add(`--${name}`);
    for (const a of [(d as { alias?: string | string[] }).alias ?? []].flat()) out.add(a.length === 1 ? `-${a}` : `--${a}`);
  }
  return out;
}

async function resolveCommand(root: AnyCommand, raw: string[]): Promise<Resolved> {
  const names = ['toes'];
  const chain = [root];
  let rest = raw;
  for (;;) {
    const cmd = chain[chain.length - 1];
    const subs = (await resolve(cmd.subCommands ?? {})) as Record<string, Resolvable<AnyCommand>>;
    if (!Object.keys(subs).length) break;
    const values = await valueFlags(cmd);
    let i = 0;
    for (; i < rest.length && rest[i] !== '--'; i++) {
      if (!rest[i].startsWith('-')) break;
      if (!rest[i].includes('=') && values.has(rest[i])) i++;
    }
    let name = i < rest.length && rest[i] !== '--' ? rest[i] : undefined;
    if (name === undefined) {
      name = (await resolve(cmd.default as Resolvable<string | undefined>)) ?? undefined;
      if (name === undefined) {
        if (cmd.run) break;
        const what = names.length === 1 ? 'a command' : 'an action';
        throw new RevError('USAGE', `\`${names.join(' ')}\` needs ${what}: ${Object.keys(subs).join(', ')}; see \`${names.join(' ')} --help\`.`);
      }
    } else rest = [...rest.slice(0, i), ...rest.slice(i + 1)];
    if (!(name in subs)) {
      const what = names.length === 1 ? 'command' : `action of \`${names.join(' ')}\``;
      throw new RevError('USAGE', `"${printable(name)}" is not ${names.length === 1 ? 'a' : 'an'} ${what}; use one of ${Object.keys(subs).join(', ')} (see \`${names.join(' ')} --help\`).`);
    }
    names.push(name);
    chain.push(await resolve(subs[name]));
  }
  return { names, chain, rest };
}

/** An unknown flag is a mistake to stop at, not to ignore: `--form` for `--from` would deploy the saved source. */
async function checkFlags(r: Resolved): Promise<void> {
  const cmd = r.chain[r.chain.length - 1];
  const defs = (await resolve(cmd.args ?? {})) as ArgsDef;
  const known = new Set<string>();
  for (const [name, d] of Object.entries(defs)) {
    if (d.type === 'positional') continue;
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const n of [name, kebab]) {
      known.add(`--${n}`);
      if (d.type === 'boolean') known.add(`--no-${n}`);
    }
    for (const a of [(d as { alias?: string | string[] }).alias ?? []].flat()) known.add(a.length === 1 ? `-${a}` : `--${a}`);
  }
  const values = await valueFlags(cmd);
  for (let i = 0; i < r.rest.length; i++) {
    const arg = r.rest[i];
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue;
    // A flag's value may itself start with "-" (`--ref -wip`): it is not a flag.
    if (!arg.includes('=') && values.has(arg)) i++;
    const flag = arg.split('=')[0];
    // Short flags may be grouped (-gv): each letter must be known.
    const flags = /^-[^-]/.test(flag) ? [...flag.slice(1)].map((c) => `-${c}`) : [flag];
    for (const f of flags) {
      if (!known.has(f)) throw new RevError('USAGE', `${printable(f)} is not an option of \`${r.names.join(' ')}\`; see \`${r.names.join(' ')} --help\`.`);
    }
  }
}

/** Colour only for a person at a terminal who has not asked for none (https://no-color.org). */
export function colour(): boolean {
  return !!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Usage of the last command in `chain`: its one-line description, citty's usage, options and
 * subcommands, then its long description (examples) from help.ts. The global options are
 * listed only in `toes --help`.
 */
export async function usage(r: Pick<Resolved, 'chain' | 'names'>): Promise<string> {
  const cmd = r.chain[r.chain.length - 1];
  const meta = (await resolve(cmd.meta ?? {})) as { description?: string; name?: string };
  const [short, ...long] = (meta.description ?? '').split('\n\n');
  const args = (await resolve(cmd.args ?? {})) as ArgsDef;
  const isRoot = r.chain.length === 1;
  const own = Object.fromEntries(Object.entries(args).filter(([k]) => !(k in globalArgs)));
  const shown = { ...cmd, meta: { ...meta, name: r.names.join(' '), description: short, version: undefined }, args: isRoot ? globalArgs : own };
  const body = (await renderUsage(shown as AnyCommand)).split('\n').slice(1); // line 0: description (and the name) run together
  const text = [short, ...body, '', ...(long.length ? [long.join('\n\n'), ''] : [])];
  if (isRoot) text.push(`Every command takes the OPTIONS above; \`toes COMMAND --help\` for its own. toes ${VERSION}`);
  else if (Object.keys(args).some((k) => k in globalArgs)) text.push('Also takes the global options (--data-dir, --apps-dir, --toes-dir, --toes-url): see `toes --help`.');
  const out = text.join('\n').replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
  return colour() ? out : out.replace(ANSI, '');
}

/** A command line that could not run: the sentence on stderr, and JSON too when it asked for JSON. */
function fail(err: unknown, raw: string[]): void {
  const at = (flag: string) => raw.findIndex((a, i) => a === flag && !raw.slice(0, i).includes('--'));
  const progress = at('--progress') === -1 ? undefined : raw[at('--progress') + 1];
  printFailure(asRevError(err, 'reading the command line'), { progress, json: at('--json') !== -1 });
}

/** What bin/toes, main.ts and each one-command bundle run. */
export async function runToes(root: AnyCommand, raw = process.argv.slice(2)): Promise<void> {
  const beforeDashes = raw.includes('--') ? raw.slice(0, raw.indexOf('--')) : raw;
  if (raw.length === 1 && (raw[0] === '--version' || raw[0] === '-v')) return void process.stdout.write(`${VERSION}\n`);
  if (raw.length === 0) {
    // Bare `toes`: what it can do, on stderr (stdout stays empty for a script), and exit 2.
    process.stderr.write(await usage({ chain: [root], names: ['toes'] }));
    process.exitCode = 2;
    return;
  }
  let r: Resolved;
  try {
    const help = beforeDashes.includes('--help') || beforeDashes.includes('-h');
    if (help) {
      // Help for as far as the command line names commands (`toes config --help` is the
      // help of config, not of its default action); a wrong command name is still a mistake.
      r = await partial(root, beforeDashes);
      const first = beforeDashes.find((a) => !a.startsWith('-'));
      if (r.names.length === 1 && first !== undefined) await resolveCommand(root, [first]);
      return void process.stdout.write(await usage(r));
    }
    r = await resolveCommand(root, raw);
    await checkFlags(r);
  } catch (err) {
    return fail(err, raw);
  }
  try {
    await runCommand(r.chain[r.chain.length - 1], { rawArgs: r.rest });
  } catch (err) {
    // citty's own usage errors (a missing positional): a wrong command line too.
    if ((err as Error)?.name === 'CLIError') return fail(new RevError('USAGE', `${(err as Error).message.replace(ANSI, '')}; see \`${r.names.join(' ')} --help\`.`), raw);
    fail(err, raw);
  }
}

/** The commands a command line names before one that needs an action: `toes config --help`. */
async function partial(root: AnyCommand, raw: string[]): Promise<Resolved> {
  const names = ['toes'];
  const chain = [root];
  for (const word of raw.filter((a) => !a.startsWith('-'))) {
    const subs = (await resolve(chain[chain.length - 1].subCommands ?? {})) as Record<string, Resolvable<AnyCommand>>;
    if (!(word in subs)) break;
    names.push(word);
    chain.push(await resolve(subs[word]));
  }
  return { names, chain, rest: [] };
}
