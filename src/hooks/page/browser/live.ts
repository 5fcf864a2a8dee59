// What the server last said about the app, read from the sections it rendered: the
// notices' `until` conditions ask these, so a notice ends when the page shows its end.

/** A deploy of the app is running or queued. */
export function deploying(): boolean {
  return document.getElementById('webhooks')?.getAttribute('data-deploying') === '1';
}

/** The live release's id, or ''. */
export function liveRelease(): string {
  return document.querySelector('tr.live')?.getAttribute('data-release') ?? '';
}

/**
 * A condition that is over once a deploy that started at the click has ended. The first
 * update after a click may have been read before the deploy was queued, so the deploy
 * counts as ended only after the page has shown it running, or, for one so quick that
 * no update showed it, once the page has not shown one for a few seconds.
 */
export function deployEnded(): () => boolean {
  const at = Date.now();
  let seen = deploying();
  return () => {
    if (deploying()) return !(seen = true);
    return seen || Date.now() - at > 3000;
  };
}
