// Where notify keeps its files. A module of its own, with no imports beyond node:path, so a
// rollback can look for them without loading the notify code (see quiet.ts).
import path from 'node:path';
import type { Layout } from '../../releases/paths.js';
import type { Scope } from '../../releases/settings/load.js';

export function notifyDir(layout: Layout): string {
  return path.join(layout.revDir, 'notify');
}
export function outboxDir(layout: Layout): string {
  return path.join(notifyDir(layout), 'outbox');
}
export function receiversFile(layout: Layout, scope: Scope): string {
  return scope.global ? path.join(layout.revDir, 'notify.json') : path.join(layout.appState(scope.app), 'notify.json');
}
