// The sample web app at `version` with a predeploy script, for page tests that need a
// deploy to take a moment or to fail.
import { webApp } from '../../../fixtures/apps.js';

export function withPredeploy(version: string, script: string): Record<string, string> {
  const files = webApp(version);
  const pkg = JSON.parse(files['package.json']);
  pkg.scripts = { ...pkg.scripts, predeploy: script };
  files['package.json'] = JSON.stringify(pkg);
  return files;
}
