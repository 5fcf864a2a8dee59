// The branch an app follows: what `toes deploy <app>` without --ref fetches, and the only
// branch whose pushes a webhook deploys. One definition for both, so a webhook can never
// accept a push to one branch and then deploy another.
import type { ReleaseRecord } from './log.js';

/** `main`, `heads/main` and `refs/heads/main` name one branch. */
export function fullRef(ref: string): string {
  if (ref.startsWith('refs/')) return ref;
  if (ref.startsWith('heads/') || ref.startsWith('tags/')) return `refs/${ref}`;
  return `refs/heads/${ref}`;
}

/** The release the log says is live (its last `live` record). */
export function liveRecord(releases: ReleaseRecord[]): ReleaseRecord | undefined {
  return releases.filter((r) => r.status === 'live').pop();
}

/**
 * The `branch` setting (as written: the source looks it up as a branch, then a tag), else
 * the branch the live release was deployed from, else undefined (the deploy then takes
 * the remote's default branch, and webhooks deploy nothing).
 *
 * `source` is the source the deploy will fetch: the live release's branch only carries
 * over to the repository it came from, never to one named by a new --from.
 */
export function followedBranch(settings: { branch?: string; source?: string }, live: ReleaseRecord | undefined): string | undefined {
  if (settings.branch) return settings.branch;
  if (!live?.ref?.startsWith('refs/heads/')) return undefined;
  if (settings.source !== undefined && live.source !== settings.source) return undefined;
  return live.ref;
}
