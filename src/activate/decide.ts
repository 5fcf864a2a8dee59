// What a deploy does with a version: nothing (it is live), reuse its sealed release (no
// fetch, no build), or build it. Taken once, as soon as the version is known: after probe
// for git, after fetch for a tarball or a directory, which only the fetch reveals.
import { RevError } from '../errors.js';
import type { ReleaseRecord } from '../releases/log.js';
import { isGood, type AppState } from '../releases/reconcile.js';

export type Decision =
  | { kind: 'build' }
  | { kind: 'reuse'; release: ReleaseRecord }
  | { kind: 'unchanged'; release: ReleaseRecord };

/** Throws BAD_RELEASE for a version that failed its health check, unless `force`. */
export function decide(state: AppState, version: string, force: boolean): Decision {
  if (force) return { kind: 'build' };
  const live = state.releases.find((r) => r.id === state.liveId);
  if (live?.version === version) return { kind: 'unchanged', release: live };
  const newestFirst = [...state.releases].reverse();
  const bad = newestFirst.find((r) => r.version === version && r.status === 'bad');
  if (bad) {
    throw new RevError('BAD_RELEASE', `Version ${version.slice(0, 10)} was marked bad (release ${bad.id}: ${bad.error?.message ?? 'unhealthy'}); deploy a fix, or pass --force to try it again.`, {
      data: { release: bad.id },
    });
  }
  const sealed = newestFirst.find((r) => r.version === version && isGood(r));
  return sealed ? { kind: 'reuse', release: sealed } : { kind: 'build' };
}

/** Why the build stages do not run, or undefined when the version must be built. */
export function noBuildReason(d: Decision | undefined): string | undefined {
  if (d?.kind === 'reuse') return `version ${d.release.version.slice(0, 10)} has a sealed release (${d.release.id}): reused`;
  if (d?.kind === 'unchanged') return `version ${d.release.version.slice(0, 10)} is already live (${d.release.id})`;
  return undefined;
}

