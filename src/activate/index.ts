export { deploy, deployStages, type Engine, type DeployRequest } from './deploy.js';
export { rollback, rollbackStages, findRelease, type RollbackRequest } from './rollback.js';
export type { OpResult, StageTiming, FlowEvents } from './flow.js';
export { listReleases, type ReleaseView } from './releases.js';
