// The sample app's predeploy step (`bun run predeploy`): records which release this build
// belongs to. Quick, and needs no network. toes-rev runs it in the staging directory
// with TOES_APP and TOES_RELEASE set, after `bun install` and before the release is sealed.
import { writeFileSync } from 'node:fs';

const info = {
  app: process.env.TOES_APP ?? null,
  release: process.env.TOES_RELEASE ?? null,
  builtAt: new Date().toISOString(),
};
writeFileSync('build-info.json', JSON.stringify(info, null, 2) + '\n');
console.log(`build-info.json written for release ${info.release}`);
