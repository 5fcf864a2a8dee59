// The daemon's part that holds the link to the relay while this server is registered with
// the configured one, and follows changes to that (a new relay, `relay none`, a new
// identity) without a restart, and tells the relay which apps take webhooks whenever an
// app's settings change (`toes webhook enable/disable`).
import fs from 'node:fs/promises';
import { isAppName, type Layout } from '../../../releases/paths.js';
import type { Started } from '../../common/assembly.js';
import type { EventLog } from '../../common/event-log.js';
import type { Answer, Arrival } from '../receiver.js';
import type { RelayClient } from './client.js';
import { readWebhook } from '../webhook-state.js';
import { readInstance, relayUrl, type Instance } from './instance.js';

/** The apps whose webhooks are enabled. */
export async function enabledApps(layout: Layout): Promise<string[]> {
  const names = (await fs.readdir(layout.appsStateRoot).catch(() => [] as string[])).filter(isAppName);
  const on = await Promise.all(names.map(async (app) => (await readWebhook(layout, app).catch(() => undefined))?.enabled === true));
  return names.filter((_, i) => on[i]);
}

export class RelayLink {
  private link?: { client: RelayClient; key: string };
  private refreshing = Promise.resolve();
  private handle?: (d: Arrival) => Promise<Answer>;
  /** The relay last said to have no registration of this server: said once, not per refresh. */
  private unregistered?: string;

  constructor(
    private layout: Layout,
    private log: EventLog,
    private heartbeatMs?: number,
    /** Told how many webhooks the relay still has on their way (the scheduler holds new deploys meanwhile). */
    private backlog?: (waiting: number) => void,
  ) {}

  /** Connects when this server is registered with the configured relay; undone by disconnecting. */
  async start(handle: (d: Arrival) => Promise<Answer>): Promise<Started<RelayLink>> {
    this.handle = handle;
    await this.refresh();
    return {
      value: this,
      undo: async () => {
        this.handle = undefined;
        await this.refreshing;
        await this.link?.client.stop();
      },
    };
  }

  /** The relay setting or the identity may have changed: connect, reconnect or disconnect. */
  refresh(): Promise<void> {
    return (this.refreshing = this.refreshing.then(() => this.follow()));
  }

  private async follow(): Promise<void> {
    const handle = this.handle;
    if (!handle) return; // not started, or stopping
    let want: string | undefined;
    let inst: Instance | undefined;
    try {
      want = await relayUrl(this.layout);
      inst = want ? await readInstance(this.layout) : undefined;
    } catch (err) {
      this.log('relay-config', { reason: (err as Error).message });
    }
    const key = inst && inst.relay === want ? `${inst.relay} ${inst.id} ${inst.secret}` : '';
    if (want && !key && this.unregistered !== want) {
      // Otherwise silent: a relay that was unreachable when webhooks were enabled leaves
      // this server unregistered, and nothing would ever arrive through it.
      this.log('relay-unregistered', { relay: want, note: 'this server is not registered with the relay (it could not be reached when webhooks were enabled, or the relay setting changed since), so nothing arrives through it; run `toes webhook enable` again for an app to register, or `toes config set -g relay none`' });
    }
    this.unregistered = want && !key ? want : undefined;
    // The same link: an app's settings may have changed.
    if (key === (this.link?.key ?? '')) return this.link?.client.announceApps();
    await this.link?.client.stop();
    this.link = undefined;
    if (!key || !inst) return;
    // Loaded only when a relay is used: the WebSocket library costs ~10 MB of memory.
    const { RelayClient } = await import('./client.js');
    const client = new RelayClient({ instance: inst, log: this.log, handle, apps: () => enabledApps(this.layout), stateFile: this.layout.relayLinkFile, heartbeatMs: this.heartbeatMs, backlog: this.backlog });
    this.link = { client, key };
    this.log('relay-connecting', { relay: inst.relay, instance: inst.id });
    client.start();
  }
}
