// The few error kinds toes-rev raises. Every one carries a stable `code` (tests and
// scripts match on it), a sentence for the user that says what to do next, and
// optional structured `data`. Messages must never contain a token or a secret.

export type ErrorCode =
  | 'USAGE' // the command line is wrong
  | 'NO_SOURCE' // no source known for the app
  | 'UNKNOWN_APP' // no such app
  | 'UNREACHABLE' // network failure talking to the source
  | 'AUTH' // the source refused our credentials (or wanted some)
  | 'REF_NOT_FOUND' // branch / tag / version does not exist
  | 'NO_PACKAGE_JSON' // the snapshot is not an app
  | 'UNSAFE_ENTRY' // an archive or tree entry escapes the release
  | 'BAD_ARCHIVE' // truncated / not gzip / not tar
  | 'DISK_FULL' // ENOSPC / EDQUOT while writing
  | 'LOCKED' // another deploy or rollback holds the app's lock
  | 'BUILD_FAILED' // bun install or predeploy exited non-zero
  | 'BUILD_TIMEOUT' // bun install or predeploy ran past build.timeout
  | 'NO_ROLLBACK_TARGET' // nothing to roll back to
  | 'RELEASE_NOT_FOUND' // VERSION given to rollback is unknown or pruned
  | 'RELEASE_CHANGED' // a sealed release's files changed after its seal
  | 'SANDBOX_UNAVAILABLE' // build.sandbox is on and bubblewrap does not work here
  | 'BAD_CONFIG' // a setting has an invalid value
  | 'UNHEALTHY' // the new release did not come up healthy and was rolled back
  | 'BAD_RELEASE' // that version was marked bad; --force to try it again
  | 'SOURCE_CHANGED' // a local file changed while it was read
  | 'LIMIT_EXCEEDED' // a source sent more (or took longer) than a limit allows
  | 'INTERRUPTED' // the process doing it was stopped or killed before it finished
  | 'PORT_IN_USE' // a server could not listen: the address is taken
  | 'INTERNAL'; // a bug or an unexpected system error

/**
 * A command's exit status for an error: 2 when the command cannot run as given (a wrong
 * command line, an address already taken), 1 when it ran and failed.
 */
export function exitCodeOf(code: ErrorCode): number {
  return code === 'USAGE' || code === 'PORT_IN_USE' ? 2 : 1;
}

export class RevError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RevError';
    this.code = code;
    this.data = opts.data ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * Messages raised where the app is not known name it `<app>` (in a command to run next);
 * the boundary that knows the app (the flow runner, the CLI) fills in its real name, or
 * `-g` where the command had no app (the same command then works on the global settings).
 */
export const APP_PLACEHOLDER = '<app>';

export function naming(err: RevError, app: string | undefined): RevError {
  if (!err.message.includes(APP_PLACEHOLDER) && (app === undefined || err.data.app !== undefined)) return err;
  const message = err.message.split(APP_PLACEHOLDER).join(app ?? '-g');
  const named = new RevError(err.code, message, { data: app === undefined || err.data.app !== undefined ? err.data : { ...err.data, app }, cause: err.cause });
  named.stack = err.stack;
  return named;
}

/**
 * Any thrown value as a RevError: a full disk as DISK_FULL (while `doing`), anything else
 * unexpected as INTERNAL, which is a bug to report.
 */
export function asRevError(err: unknown, doing: string, report = ''): RevError {
  const e = translateSystemError(err, doing);
  if (e instanceof RevError) return e;
  return new RevError('INTERNAL', `Unexpected error while ${doing}: ${(e as Error)?.message ?? String(e)}; this is a bug in toes-rev, please report it${report}.`, { cause: e });
}

export function isRevError(err: unknown, code?: ErrorCode): err is RevError {
  return err instanceof RevError && (code === undefined || err.code === code);
}

/** Translate low-level errors that mean the same thing everywhere (a full disk). */
export function translateSystemError(err: unknown, doing: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RevError('DISK_FULL', `The disk filled up while ${doing}; free some space (a lower \`toes config set ${APP_PLACEHOLDER} keep N\` prunes old releases) and ${doing === 'deploying' ? 'deploy' : 'try'} again.`, {
      cause: err,
    });
  }
  return err;
}
