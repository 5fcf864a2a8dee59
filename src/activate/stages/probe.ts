// probe: ask the source which version it would deploy, without downloading it (for git,
// one ref advertisement). When it names one, what to do with it is decided here.
import { formatSource, probeSource } from '../../fetch/index.js';
import { followedBranch } from '../../releases/followed-branch.js';
import { liveBefore, ready, settle, type DeployCtx } from '../context.js';
import { decide } from '../decide.js';
import { fetchContext } from './fetch.js';

export async function probe(c: DeployCtx): Promise<void> {
  ready(c, 'source', 'state');
  c.probe = await probeSource(c.source, probeRef(c), fetchContext(c));
  if (c.probe.version) settle(c, decide(c.state, c.probe.version, !!c.req.force));
}

/** --ref, else the branch a webhook for this app would accept: the two never differ. */
export function probeRef(c: DeployCtx): string | undefined {
  ready(c, 'source');
  return c.req.ref ?? followedBranch({ branch: c.settings.branch, source: formatSource(c.source) }, liveBefore(c));
}
