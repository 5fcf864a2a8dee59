import { defineCommand } from 'citty';
import { RevError } from '../../errors.js';
import { describe } from '../help.js';
import { act, serveUntilSignalled, commonArgs, layoutFrom, seconds, wholeNumber } from '../common.js';

export default defineCommand({
  meta: {
    name: 'serve',
    description: describe(
      'serve',
      'Run the daemon: receive webhooks and deploy them, one at a time per app.',
      'Webhooks arrive at POST /hooks/<app>; each is checked against the app\'s secret, queued on disk,\n' +
        'answered at once, and deployed by the queue. Logs one line per event on stdout.\n' +
        'Stop it with SIGTERM or Ctrl-C: a running build is abandoned (it runs again at the next start),\n' +
        'an activation already begun is finished.\n\n' +
        'Examples:\n' +
        '  toes serve                         listen on 127.0.0.1:7420\n' +
        '  toes serve --host 0.0.0.0          accept webhooks from the network\n' +
        '  toes webhook enable my-app         then paste the printed URL and secret into rev.host',
    ),
  },
  args: {
    host: { type: 'string', description: 'Address to listen on (default 127.0.0.1)', valueHint: 'HOST' },
    port: { type: 'string', description: 'Port to listen on (default 7420; 0 picks a free one)', valueHint: 'PORT' },
    jobs: { type: 'string', description: 'Deploys of different apps that may run at once (default 2)', valueHint: 'N' },
    'read-timeout': { type: 'string', description: 'Seconds a sender may take to send a webhook (default 10)', valueHint: 'SECONDS' },
    'max-connections': { type: 'string', description: 'Open connections at most; past it the oldest idle one is closed (default 512, and at most 3/4 of ulimit -n)', valueHint: 'N' },
    'idle-timeout': { type: 'string', description: 'Seconds a connection may stay open without sending a request (default 5)', valueHint: 'SECONDS' },
    'relay-heartbeat': { type: 'string', description: 'Seconds between pings on the relay link; a link silent for two is dropped (default 20)', valueHint: 'SECONDS' },
    ...commonArgs,
    json: { type: 'boolean', description: 'Log JSON lines instead of text' },
  },
  async run({ args }) {
    await act(args, async () => {
      const { startDaemon } = await import('../../hooks/serve/daemon.js');
      const { DEFAULT_HOST, DEFAULT_PORT } = await import('../../hooks/serve/serve-info.js');
      const port = args.port === undefined ? DEFAULT_PORT : Number(args.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RevError('USAGE', `--port takes a port number from 0 to 65535, not "${args.port}".`);
      const jobs = args.jobs === undefined ? 2 : Number(args.jobs);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new RevError('USAGE', `--jobs takes a whole number from 1 to 64, not "${args.jobs}".`);
      const readTimeout = seconds(args['read-timeout'], 'read-timeout');
      const beat = seconds(args['relay-heartbeat'], 'relay-heartbeat');
      const idle = seconds(args['idle-timeout'], 'idle-timeout');
      const daemon = await startDaemon({
        layout: layoutFrom(args),
        host: args.host ?? DEFAULT_HOST,
        port,
        jobs,
        readTimeoutMs: readTimeout === undefined ? undefined : Math.max(100, readTimeout * 1000),
        out: process.stdout,
        err: process.stderr,
        json: !!args.json,
        maxConnections: wholeNumber(args['max-connections'], 'max-connections', 1, 1_000_000),
        idleTimeoutMs: idle === undefined ? undefined : Math.max(100, idle * 1000),
        relayHeartbeatMs: beat === undefined ? undefined : Math.max(100, beat * 1000),
      });
      await serveUntilSignalled(daemon);
    });
  },
});
