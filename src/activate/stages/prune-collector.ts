// The collection after a deploy's prune, in a process of its own so the deploy's command
// returns as soon as its release is live: deleting a pruned release's thousands of files
// and the blobs only it used takes longer than the rest of a one-commit deploy. Run as
// `prune-collector.js <app> [deploy log]` with DATA_DIR, APPS_DIR and TOES_DIR set. The deploy
// notes the collector's pid in rev/apps/<app>/collecting.json; the collector removes the
// note when it is done and appends a summary to the deploy log.
import fs from 'node:fs/promises';
import { collectGarbage } from '../../releases/gc.js';
import { Layout, checkAppName, resolveRoots } from '../../releases/paths.js';

async function run(app: string, logFile: string | undefined): Promise<void> {
  const layout = new Layout(resolveRoots());
  const note = layout.collectorNote(checkAppName(app));
  let line: string;
  try {
    const g = await collectGarbage(layout, { app, command: `gc after the deploy of ${app}` });
    line = `gc: freed ${g.freed.bytes} bytes in ${g.freed.blobs} blobs, ${g.objectBytes} bytes of ${g.objects} git objects, ${g.releaseDirs} release directories${g.complete ? '' : `; left for later: ${g.skipped.join('; ')}`}\n`;
  } catch (err) {
    line = `gc: failed (${(err as Error).message}); \`toes gc\` finishes it\n`;
  } finally {
    await fs.rm(note, { force: true });
  }
  if (logFile) await fs.appendFile(logFile, line).catch(() => {});
}

const [app, logFile] = process.argv.slice(2);
// Not a top-level await: the bundle of this file is CommonJS (scripts/bundle.mjs).
void run(app, logFile);
