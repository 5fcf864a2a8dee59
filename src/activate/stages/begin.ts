// begin: name the release (Toes' timestamp form), open its deploy log and log it `building`.
import { failpoint } from '../../failpoint.js';
import { formatSource } from '../../fetch/index.js';
import { appendLog, type ReleaseRecord } from '../../releases/log.js';
import { newReleaseId } from '../../releases/naming.js';
import { fileLog } from '../build.js';
import { ready, type DeployCtx } from '../context.js';

export async function begin(c: DeployCtx): Promise<void> {
  await failpoint('fetched');
  ready(c, 'source', 'snapshot', 'state');
  const { layout, app, source, snapshot } = c;
  const id = newReleaseId(layout.appDir(app), new Set(c.state.releases.map((r) => r.id)), c.engine.now());
  const record: ReleaseRecord = {
    id,
    version: snapshot.version,
    kind: source.kind === 'git-remote' || source.kind === 'git-local' ? 'git' : source.kind,
    status: 'building',
    source: formatSource(source),
    ref: c.probe?.target?.ref || undefined,
    commit: c.probe?.target?.commit,
    createdAt: c.engine.now().toISOString(),
    trigger: c.trigger,
    pid: process.pid,
  };
  const log = fileLog(layout.deployLog(app, id), c.engine.events?.onText);
  c.build = { record, log, staging: layout.stagingDir(app, id), sealed: false };
  // From here on the app's own processes (build steps, the restart) see the release's name.
  c.processEnv.TOES_RELEASE = id;
  await appendLog(layout.releaseLog(app), [record]);
  log.write(`deploy ${app} ${id} from ${record.source}${record.ref ? ` (${record.ref})` : ''}\n`);
  log.write(`fetched ${snapshot.version} (${snapshot.entries.length} files, ${snapshot.bytesFetched} bytes downloaded)\n`);
}
