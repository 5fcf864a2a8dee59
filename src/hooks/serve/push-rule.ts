// Which pushes deploy: only a push that moves the branch the app follows (see
// releases/followed-branch.ts, which the deploy uses too). Tags, deletions and pushes
// that name no branch never do: each is acknowledged with a reason for the sender's log.
import { fullRef } from '../../releases/followed-branch.js';

/** Why this push does not deploy `app`, or undefined when it does. `followed` is a full ref. */
export function whyIgnored(app: string, push: { ref?: string; deleted: boolean }, followed: string | undefined): string | undefined {
  if (!push.ref) return `the push names no ref, so it cannot be matched to the branch ${app} follows`;
  const ref = fullRef(push.ref);
  if (ref.startsWith('refs/tags/')) return `${ref} is a tag; only pushes to the branch ${app} follows deploy it`;
  if (!ref.startsWith('refs/heads/')) return `${ref} is not a branch; only pushes to the branch ${app} follows deploy it`;
  if (push.deleted) return `the push deletes ${ref}; a deletion never deploys`;
  if (!followed) {
    return `${app} follows no branch (no \`branch\` setting, and its live release was not deployed from a branch), so no push deploys it; choose one with \`toes config set ${app} branch NAME\``;
  }
  if (ref !== followed) return `a push to ${ref} does not deploy ${app}, which follows ${followed}`;
  return undefined;
}
