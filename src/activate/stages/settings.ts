// settings: the app's settings and `toes env`, read as the flow's first stage, so that a bad
// setting fails like any other stage does: the same result shape, the failed stage named.
import { settingsAndEnv } from '../../releases/settings/load.js';
import { appProcessEnv } from '../build.js';
import type { DeployCtx, OpCtx } from '../context.js';

export async function settings(c: OpCtx): Promise<void> {
  const { settings, env } = await settingsAndEnv(c.layout, c.app);
  c.settings = settings;
  c.env = env;
  c.processEnv = c.op === 'deploy' ? { ...appProcessEnv(env), TOES_APP: c.app } : appProcessEnv(env);
  // install and predeploy share build.timeout, counted from the deploy's start.
  if (c.op === 'deploy') (c as DeployCtx).deadline = Date.now() + settings.buildTimeout * 1000;
}
