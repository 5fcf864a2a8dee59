// A 3-server nats-server cluster for benches that measure NATS on its own: a client
// connection, and the servers' CPU so far from /proc.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsCluster } from '../test/fixtures/nats-cluster.js';
import { cpuMs } from './servers.js';

export interface MeasuredNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** CPU ms the three servers have used so far. */
  natsMs(): number;
  stop(): Promise<void>;
}

export async function measuredNats(): Promise<MeasuredNats> {
  const c = await startNatsCluster(3);
  const pids = c.nodes.map((x) => x.proc!.child.pid!);
  const nc = await connect({ servers: c.urls.split(','), user: c.env.TOES_RELAY_NATS_USER, pass: c.env.TOES_RELAY_NATS_PASSWORD });
  return {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    natsMs: () => pids.reduce((s, p) => s + cpuMs(p), 0),
    async stop() {
      await nc.close();
      await c.stop();
    },
  };
}
