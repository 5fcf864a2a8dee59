import { defineCommand } from 'citty';
import { RevError } from '../../errors.js';
import { describe } from '../help.js';
import { act, serveUntilSignalled, commonArgs, layoutFrom, parseSecondsFlag, wholeNumber } from '../common.js';

export default defineCommand({
  meta: {
    name: 'serve',
    description: describe(
      'serve',
      'Run the daemon: receive webhooks and deploy them, one at a time per app.',
      'Webhooks arrive at POST /hooks/<app>; each is checked against the app\'s secret, queued on disk,\n' +
        'answered at once, and deployed by the queue. Logs one line per event on stdout.\n' +
        'The settings page (at /) needs a login: a link printed at start (it works once, for 15 minutes)\n' +
        'and by `toes page`. With --page-host or --page-port it listens on an address of its own, and\n' +
        'the main address answers only webhooks and /health.\n' +
        'Stop it with SIGTERM or Ctrl-C: a running build is abandoned (it runs again at the next start),\n' +
        'an activation already begun is finished.\n\n' +
        'Examples:\n' +
        '  toes serve                         listen on 127.0.0.1:7420\n' +
        '  toes serve --host 0.0.0.0          accept webhooks (and the page) from the network\n' +
        '  toes serve --host 0.0.0.0 --page-host 127.0.0.1\n' +
        '                                     webhooks from the network, the page on this machine (port 7422)\n' +
        '  toes page                          a new login link for the page\n' +
        '  toes webhook enable my-app         then paste the printed URL and secret into rev.host',
    ),
  },
  args: {
    host: { type: 'string', description: 'Address to listen on (default 127.0.0.1)', valueHint: 'HOST' },
    port: { type: 'string', description: 'Port to listen on (default 7420; 0 picks a free one)', valueHint: 'PORT' },
    'page-host': { type: 'string', description: 'Serve the settings page on this address only (default: with the webhooks)', valueHint: 'HOST' },
    'page-port': { type: 'string', description: 'Port of the page\'s own address (default 7422 with --page-host)', valueHint: 'PORT' },
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
      const port = portArg(args.port, 'port') ?? DEFAULT_PORT;
      const pagePort = portArg(args['page-port'], 'page-port');
      if (args['page-host'] === '') throw new RevError('USAGE', '--page-host takes an address, e.g. 127.0.0.1.');
      const jobs = args.jobs === undefined ? 2 : Number(args.jobs);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new RevError('USAGE', `--jobs takes a whole number from 1 to 64, not "${args.jobs}".`);
      const readTimeout = parseSecondsFlag(args['read-timeout'], 'read-timeout');
      const beat = parseSecondsFlag(args['relay-heartbeat'], 'relay-heartbeat');
      const idle = parseSecondsFlag(args['idle-timeout'], 'idle-timeout');
      const daemon = await startDaemon({
        layout: layoutFrom(args),
        host: args.host ?? DEFAULT_HOST,
        port,
        pageHost: args['page-host'],
        pagePort,
        jobs,
        readTimeoutMs: readTimeout === undefined ? undefined : Math.max(100, readTimeout * 1000),
        out: process.stdout,
        err: process.stderr,
        // A login link is printed only to a person at a terminal, never into a captured log.
        terminal: process.stdout.isTTY ? process.stdout : undefined,
        json: !!args.json,
        maxConnections: wholeNumber(args['max-connections'], 'max-connections', 1, 1_000_000),
        idleTimeoutMs: idle === undefined ? undefined : Math.max(100, idle * 1000),
        relayHeartbeatMs: beat === undefined ? undefined : Math.max(100, beat * 1000),
      });
      await serveUntilSignalled(daemon);
    });
  },
});

function portArg(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (raw === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new RevError('USAGE', `--${flag} takes a port number from 0 to 65535, not "${raw}".`);
  return port;
}
