// What every command shares: the flags naming Toes' directories, --json, resolving the
// app name, and one way to print results and errors.
import fs from 'node:fs';
import path from 'node:path';
import { RevError, asRevError, exitCodeOf, naming } from '../errors.js';
import { printable, printableJson } from '../printable.js';
import { Layout, checkAppName, resolveRoots } from '../releases/paths.js';

/** The options every command takes (listed once, in `toes --help`). */
export const globalArgs = {
  'data-dir': { type: 'string', description: 'Toes data root (env DATA_DIR; default ~/.toes)', valueHint: 'DIR' },
  'apps-dir': { type: 'string', description: 'Where apps live (env APPS_DIR; default $DATA_DIR/apps)', valueHint: 'DIR' },
  'toes-dir': { type: 'string', description: "Toes' own directory (env TOES_DIR)", valueHint: 'DIR' },
  'toes-url': { type: 'string', description: 'The Toes server (env TOES_URL)', valueHint: 'URL' },
} as const;

export const commonArgs = {
  json: { type: 'boolean', description: 'Print machine-readable JSON on stdout' },
  ...globalArgs,
} as const;

type Flags = Record<string, unknown>;

export function layoutFrom(args: Flags): Layout {
  const roots = resolveRoots({
    dataDir: args['data-dir'] as string | undefined,
    appsDir: args['apps-dir'] as string | undefined,
    toesDir: args['toes-dir'] as string | undefined,
    toesUrl: args['toes-url'] as string | undefined,
  });
  if (roots.defaulted && !process.env.TOES_REV_QUIET) {
    process.stderr.write(`toes: DATA_DIR is not set; using ${roots.dataDir}\n`);
  }
  return new Layout(roots);
}

/**
 * The app this command works on, once known: an error raised below without the app's name
 * (`toes config set <app> ...` in its advice) gets it filled in by act(). One process runs
 * one command, so one variable holds it.
 */
let commandApp: string | undefined;

/** [app] defaults to the name in ./package.json, as Toes' own CLI does. */
export function appFrom(given: unknown, cwd = process.cwd()): string {
  if (typeof given === 'string' && given) return (commandApp = checkAppName(given));
  let name: unknown;
  try {
    name = JSON.parse(fs.readFileSync(path.join(cwd, 'package.json'), 'utf8')).name;
  } catch {}
  if (typeof name === 'string' && name) return (commandApp = checkAppName(name.replace(/^@[^/]+\//, '')));
  throw new RevError('USAGE', 'No app given and no package.json with a name here; name the app, e.g. `toes deploy my-app`.');
}

/** The command's result as JSON on stdout (no terminal control left raw in it). */
export function printJson(value: unknown): void {
  writeOut(printableJson(value, 2));
}

/** One JSON object on one line of stdout (--progress json). */
export function printLine(value: unknown): void {
  writeOut(printableJson(value));
}

function writeOut(text: string): void {
  // Not through process.stdout: its first use loads node:stream on Bun (about 5 ms) and
  // node:net on Node (about 4 ms on a pipe), against a rollback's 10 ms of work. Bun's
  // console.log writes natively (one string is printed as it is); on Node, write(2).
  if (process.versions.bun) console.log(text);
  else writeStdoutSync(text + '\n');
}

function writeStdoutSync(text: string): void {
  const buf = Buffer.from(text);
  let done = 0;
  try {
    while (done < buf.length) done += fs.writeSync(1, buf, done);
  } catch (err) {
    // A non-blocking stdout that is full: the stream waits for room.
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    process.stdout.write(buf.subarray(done));
  }
}

/**
 * Runs a command body; an error becomes one sentence on stderr (the app's real name in it,
 * terminal controls escaped) and, with --json, JSON on stdout: `{ok: false, error}`, or
 * with `result` the command's own result shape (deploy and rollback: an OpResult). A full
 * disk reads as a full disk here as in a deploy.
 */
export async function act(args: Flags, body: () => Promise<void>, result?: (error: { code: RevError['code']; message: string }) => object): Promise<void> {
  try {
    await body();
  } catch (err) {
    printFailure(naming(asRevError(err, 'running the command'), commandApp), args, result);
  }
}

/**
 * How a command that failed reports it, whether it failed running or on its command line:
 * the sentence on stderr, the exit code, and the result as JSON when it asked for JSON.
 */
export function printFailure(e: RevError, asked: { progress?: unknown; json?: unknown }, result?: (error: { code: RevError['code']; message: string }) => object): void {
  const error = { code: e.code, message: e.message };
  const body = result ? result(error) : { ok: false, error };
  if (asked.progress === 'json') printLine({ event: 'result', ...body });
  else if (asked.json) printJson(body);
  process.stderr.write(`toes: ${printable(e.message)}\n`);
  process.exitCode = exitCodeOf(e.code);
}

/** A `--NAME SECONDS` flag: undefined when absent, USAGE when not a number of seconds. */
export function parseSecondsFlag(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new RevError('USAGE', `--${name} takes a number of seconds, not "${String(raw)}".`);
  return n;
}

export function wholeNumber(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new RevError('USAGE', `--${name} takes a whole number from ${min} to ${max}, not "${String(raw)}".`);
  return n;
}

export function shortId(v: string | undefined): string {
  return v ? (/^[0-9a-f]{40,64}$/.test(v) ? v.slice(0, 10) : v) : '-';
}

/**
 * Runs until SIGTERM or Ctrl-C, then stops the server cleanly. A second signal means now:
 * what the servers keep on disk is safe either way.
 */
export function serveUntilSignalled(server: { stop(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) process.exit(130);
      void server.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
