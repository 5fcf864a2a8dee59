import { defineCommand } from 'citty';
import path from 'node:path';
import { RevError } from '../../errors.js';
import { describe } from '../help.js';
import { act, serveUntilSignalled, parseSecondsFlag, wholeNumber } from '../common.js';

async function natsOptions(args: Record<string, unknown>) {
  const { natsServers } = await import('../../hooks/relay/nats/connect.js');
  const { PREFIX } = await import('../../hooks/relay/nats/layout.js');
  const prefix = args['nats-prefix'] === undefined ? undefined : String(args['nats-prefix']);
  if (prefix !== undefined && !PREFIX.test(prefix)) throw new RevError('USAGE', `--nats-prefix takes 1-32 of a-z, 0-9 and _, not "${prefix}".`);
  return {
    servers: natsServers(String(args.nats)),
    credsFile: args['nats-creds'] === undefined ? undefined : path.resolve(String(args['nats-creds'])),
    prefix,
    replicas: wholeNumber(args.replicas, 'replicas', 1, 5),
    shards: wholeNumber(args['nats-shards'], 'nats-shards', 1, 256),
  };
}

export default defineCommand({
  meta: {
    name: 'relay',
    description: describe(
      'relay',
      'Run a relay: webhooks for servers behind NAT, stored until delivered.',
      'Hosts post to https://<relay>/hooks/<instance-id>/<app>; each webhook is stored on disk before the\n' +
        'answer, then passed down the instance\'s own outbound WebSocket and kept until it acks.\n' +
        'Signatures are checked on the instance, so a relay cannot forge a deploy.\n\n' +
        'Examples:\n' +
        '  toes relay --data /var/lib/toes-relay                 listen on 127.0.0.1:7421\n' +
        '  toes relay --host 0.0.0.0 --port 8080 --data ./relay  behind a TLS proxy\n' +
        '  toes relay --host 0.0.0.0 --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222\n' +
        '      one stateless node of a relay cluster (credentials: TOES_RELAY_NATS_USER and\n' +
        '      TOES_RELAY_NATS_PASSWORD, TOES_RELAY_NATS_TOKEN, or --nats-creds FILE)\n' +
        'Instances use it with: toes config set -g relay https://relay.example.net',
    ),
  },
  args: {
    data: { type: 'string', description: 'Directory for the relay\'s data (one process; this or --nats)', valueHint: 'DIR' },
    nats: { type: 'string', description: 'NATS JetStream servers, comma-separated: the relay keeps no state and runs as one node of many', valueHint: 'URL[,URL…]' },
    'nats-creds': { type: 'string', description: 'NATS credentials file (else TOES_RELAY_NATS_CREDS, _USER and _PASSWORD, or _TOKEN from the environment)', valueHint: 'FILE' },
    'nats-prefix': { type: 'string', description: 'Names of the stream, buckets and subjects in NATS (default toes_relay)', valueHint: 'NAME' },
    replicas: { type: 'string', description: 'Copies of each webhook and registration in NATS (default 3, fewer in a smaller cluster)', valueHint: 'N' },
    'nats-shards': { type: 'string', description: 'Streams the webhooks are spread over; fixed by the first node of a new cluster (default 16)', valueHint: 'N' },
    host: { type: 'string', description: 'Address to listen on (default 127.0.0.1)', valueHint: 'HOST' },
    port: { type: 'string', description: 'Port (default 7421; 0 picks a free one)', valueHint: 'PORT' },
    'max-pending': { type: 'string', description: 'Undelivered webhooks kept per instance; past it the oldest of the app holding the most is dropped (default 10000)', valueHint: 'N' },
    'max-pending-bytes': { type: 'string', description: 'Bytes of undelivered webhooks kept per instance; past it the oldest of the app holding the most are dropped (default 67108864, 64 MiB)', valueHint: 'BYTES' },
    'max-pending-app': { type: 'string', description: 'Undelivered webhooks kept per app of an instance; past it the app\'s oldest is dropped (default 1000)', valueHint: 'N' },
    'max-age': { type: 'string', description: 'Seconds an undelivered webhook is kept (default 604800, a week)', valueHint: 'SECONDS' },
    rate: { type: 'string', description: 'Webhooks per second per instance (default 50, bursts of 4x)', valueHint: 'N' },
    'address-rate': { type: 'string', description: 'Webhooks per second per source address (default 100, bursts of 4x)', valueHint: 'N' },
    heartbeat: { type: 'string', description: 'Seconds between heartbeat rounds: each instance that did not ping the relay since the last is pinged, and a pinged one silent until the next is dropped (default 20)', valueHint: 'SECONDS' },
    'max-instances': { type: 'string', description: 'Instances that may register (default 1000)', valueHint: 'N' },
    'read-timeout': { type: 'string', description: 'Seconds a sender may take to send a request (default 10)', valueHint: 'SECONDS' },
    'max-connections': { type: 'string', description: 'Open connections at most, instances\' links included; past it the oldest idle one is closed (default 4096, and at most 3/4 of ulimit -n)', valueHint: 'N' },
    'idle-timeout': { type: 'string', description: 'Seconds a connection may stay open without sending a request (default 5)', valueHint: 'SECONDS' },
    'trust-proxy': { type: 'boolean', description: 'Behind a reverse proxy: rate-limit by X-Forwarded-For, not the proxy\'s address' },
    json: { type: 'boolean', description: 'Log JSON lines instead of text' },
  },
  async run({ args }) {
    await act(args, async () => {
      if (!args.data === !args.nats) {
        throw new RevError('USAGE', args.data ? 'Give the relay --data DIR or --nats URLs, not both.' : 'Give the relay a directory for its data (`toes relay --data DIR`) or a NATS cluster (`toes relay --nats URL[,URL…]`).');
      }
      if (!args.nats && ['replicas', 'nats-creds', 'nats-prefix', 'nats-shards'].some((k) => args[k] !== undefined)) {
        throw new RevError('USAGE', '--replicas, --nats-creds, --nats-prefix and --nats-shards go with --nats.');
      }
      const store = args.nats ? { nats: await natsOptions(args) } : { dataDir: path.resolve(args.data!) };
      const { startRelay } = await import('../../hooks/relay/server.js');
      const port = wholeNumber(args.port, 'port', 0, 65535) ?? 7421;
      const maxAge = parseSecondsFlag(args['max-age'], 'max-age');
      const beat = parseSecondsFlag(args.heartbeat, 'heartbeat');
      const readTimeout = parseSecondsFlag(args['read-timeout'], 'read-timeout');
      const idle = parseSecondsFlag(args['idle-timeout'], 'idle-timeout');
      const relay = await startRelay({
        host: args.host ?? '127.0.0.1',
        port,
        store,
        out: process.stdout,
        json: !!args.json,
        maxPending: wholeNumber(args['max-pending'], 'max-pending', 1, 10_000_000),
        maxBytes: wholeNumber(args['max-pending-bytes'], 'max-pending-bytes', 4 * 1024 * 1024, 2 ** 40),
        maxPerApp: wholeNumber(args['max-pending-app'], 'max-pending-app', 1, 10_000_000),
        maxAgeMs: maxAge === undefined ? undefined : maxAge * 1000,
        instanceRate: wholeNumber(args.rate, 'rate', 1, 1_000_000),
        addressRate: wholeNumber(args['address-rate'], 'address-rate', 1, 1_000_000),
        heartbeatMs: beat === undefined ? undefined : Math.max(100, beat * 1000),
        maxInstances: wholeNumber(args['max-instances'], 'max-instances', 1, 1_000_000),
        trustProxy: !!args['trust-proxy'],
        readTimeoutMs: readTimeout === undefined ? undefined : Math.max(100, readTimeout * 1000),
        maxConnections: wholeNumber(args['max-connections'], 'max-connections', 1, 1_000_000),
        idleTimeoutMs: idle === undefined ? undefined : Math.max(100, idle * 1000),
      });
      await serveUntilSignalled(relay);
    });
  },
});
