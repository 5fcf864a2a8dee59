// probe: ask the source which version it would deploy, without downloading it (for git,
// one ref advertisement). When it names one, what to do with it is decided here.
import { probeSource } from '../../fetch/index.js';
import { ready, settle, type DeployCtx } from '../context.js';
import { decide } from '../decide.js';
import { fetchContext } from './fetch.js';

export async function probe(c: DeployCtx): Promise<void> {
  ready(c, 'source', 'state');
  c.probe = await probeSource(c.source, c.req.ref ?? c.settings.branch, fetchContext(c));
  if (c.probe.version) settle(c, decide(c.state, c.probe.version, !!c.req.force));
}
