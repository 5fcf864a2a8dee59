// The relay link's state as the daemon last wrote it (rev/hooks/relay-link.json), for
// `toes webhook status` and the settings page, which must not load the WebSocket client.
import { readJson } from '../../../releases/settings/files.js';
import type { Layout } from '../../../releases/paths.js';

export interface LinkState {
  relay: string;
  instance: string;
  connected: boolean;
  /** Since when the link has been up (or down). */
  since: string;
  /** Deliveries waiting on the relay, as it last said. */
  pending: number;
  lastError?: string;
}

/** The last state written; an unreadable file reads as a link that never came up. */
export async function readLinkState(layout: Layout): Promise<Partial<LinkState>> {
  return (await readJson(layout.relayLinkFile).catch(() => ({}))) as Partial<LinkState>;
}
