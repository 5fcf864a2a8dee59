// The page's one notice line. A notice belongs to one action and says something true only
// while the state it describes lasts: it is cleared when that state is over (`over`, asked
// again whenever the page's sections change and once a second), replaced by the next
// action's notice, or, for a plain confirmation, after a few seconds.
const CONFIRMATION_MS = 4000;

let over: (() => boolean) | undefined;

function line(): HTMLElement | null {
  return document.getElementById('notice');
}

export function clearNotice(): void {
  over = undefined;
  const n = line();
  if (!n) return;
  n.textContent = '';
  n.className = '';
}

/**
 * Shows `text` until `until` says its state is over. Without `until`, a confirmation (ok)
 * fades after a few seconds and a refusal stays until the next action.
 */
export function notice(text: string, ok: boolean, until?: () => boolean): void {
  const n = line();
  if (!n) return;
  n.textContent = text;
  n.className = ok ? 'ok' : 'error';
  if (until) over = until;
  else if (ok) {
    const shownAt = Date.now();
    over = () => Date.now() - shownAt >= CONFIRMATION_MS;
  } else over = undefined;
}

/** Asks the shown notice whether its state is over. */
export function recheckNotice(): void {
  if (over && over()) clearNotice();
}

setInterval(recheckNotice, 1000);
