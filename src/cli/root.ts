// The `toes` command itself, given its subcommands: main.ts gives it all of them, loaded
// lazily; the one-command bundles (scripts/bundle.mjs) give it only theirs, so that a
// command's output and usage are the same whichever way it was started.
import { defineCommand, type SubCommandsDef } from 'citty';

export function toesCommand(subCommands: SubCommandsDef) {
  return defineCommand({
    meta: {
      name: 'toes',
      version: '0.1.0',
      description:
        'Deploy Toes apps by pulling them: immutable releases, an atomic swap of `current`, instant rollback.\n\n' +
        'Start with:  toes deploy my-app --from https://rev.host/me/my-app.git\n' +
        'Undo with:   toes rollback my-app\n' +
        'Directories: DATA_DIR (default ~/.toes), APPS_DIR (default $DATA_DIR/apps), or --data-dir / --apps-dir.',
    },
    subCommands,
  });
}
